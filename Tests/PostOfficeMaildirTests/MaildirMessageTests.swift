// MaildirMessageTests: flag changes (new/ -> cur/ renames), deletion, and ENOENT from concurrent readers.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirMessageTests {
    let names = MaildirUniqueNameGenerator(hostname: "test.host", processID: 7, clock: ManualClock())

    func deliver(_ maildir: Maildir, _ text: String) throws -> MaildirMessage {
        let draft = try MaildirDraft(maildir: maildir, baseName: names.next())
        try draft.write(Array(text.utf8))
        let name = try draft.commit(virtualSize: text.utf8.count + text.utf8.filter { $0 == 10 }.count)
        return MaildirMessage(maildir: maildir, directory: .new, filename: try #require(MaildirFilename(name)))
    }

    func freshMaildir() throws -> Maildir {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        return maildir
    }

    @Test func seenMovesFromNewToCur() throws {
        let maildir = try freshMaildir()
        let message = try deliver(maildir, "Subject: a\n\nbody\n")
        let seen = try message.addingFlags("S")
        #expect(seen.directory == .cur)
        #expect(seen.name == message.name + ":2,S")
        #expect(seen.baseName == message.baseName)
        #expect(!FileManager.default.fileExists(atPath: message.path))
        #expect(FileManager.default.fileExists(atPath: seen.path))
        let scanned = try MaildirScanner(maildir: maildir).scan().messages
        #expect(scanned == [seen])
        #expect(try seen.size() == MaildirMessage.Size(byteCount: 17, virtualByteCount: 20))
    }

    @Test func addAndRemoveKeepSortedFlags() throws {
        let maildir = try freshMaildir()
        var message = try deliver(maildir, "x\n")
        message = try message.addingFlags("SF")
        message = try message.addingFlags("R")
        #expect(message.name.hasSuffix(":2,FRS"))
        message = try message.removingFlags("F")
        #expect(message.name.hasSuffix(":2,RS"))
        let unchanged = try message.settingFlags("RS")
        #expect(unchanged == message)
        message = try message.settingFlags(MaildirFlags())
        #expect(message.name.hasSuffix(":2,"))
        #expect(message.directory == .cur)
        #expect(try MaildirScanner(maildir: maildir).scan().messages == [message])
    }

    @Test func flagChangeOfMovedMessageReportsVanished() throws {
        let maildir = try freshMaildir()
        let message = try deliver(maildir, "x\n")
        // Another reader (a second POP3 session, an IMAP server) marks it read first.
        _ = try message.addingFlags("S")
        #expect(throws: MaildirError.messageVanished(path: message.path)) { try message.addingFlags("S") }
        #expect(throws: MaildirError.messageVanished(path: message.path)) { try message.delete() }
    }

    @Test func deleteRemovesTheFile() throws {
        let maildir = try freshMaildir()
        let first = try deliver(maildir, "one\n")
        let second = try deliver(maildir, "two\n").addingFlags("S")
        try first.delete()
        try second.delete()
        #expect(try MaildirScanner(maildir: maildir).scan().messages.isEmpty)
        #expect(throws: MaildirError.messageVanished(path: second.path)) { try second.delete() }
    }

    @Test func experimentalInfoIsReplacedBySettingFlags() throws {
        let maildir = try freshMaildir()
        #expect(FileManager.default.createFile(atPath: maildir.curPath + "/5.M1P1.h:1,odd", contents: Data("x".utf8)))
        let message = try #require(try MaildirScanner(maildir: maildir).scan().messages.first)
        #expect(message.filename.info == .experimental("odd"))
        let seen = try message.addingFlags("S")
        #expect(seen.name == "5.M1P1.h:2,S")
    }

    @Test func fixtureMessagesFlagAndDelete() throws {
        let maildir = try FixtureCopy.maildir("dovecot")
        let messages = try MaildirScanner(maildir: maildir).scan().messages
        // Dovecot's flagged message in new/ keeps its fields when it moves to cur/.
        let flagged = try #require(messages.first { $0.flags == "FRS" })
        let moved = try flagged.addingFlags("T")
        #expect(moved.directory == .cur)
        #expect(moved.name == flagged.filename.nameWithoutInfo + ":2,FRST")
        try moved.delete()
        #expect(try MaildirScanner(maildir: maildir).scan().messages.count == messages.count - 1)
    }
}
