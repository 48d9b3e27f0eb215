// MaildirScannerTests: scanning the real-tool fixtures (copied to temp dirs): counts, sizes, flags, order, folders.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirScannerTests {
    func subject(of message: MaildirMessage) throws -> String {
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: message.path)), as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("Subject: ") }
        return String(try #require(line).dropFirst("Subject: ".count))
    }

    func fileSize(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    @Test func postfixVirtualFixture() throws {
        let maildir = try FixtureCopy.maildir("postfix-virtual")
        let scan = try MaildirScanner(maildir: maildir).scan()
        #expect(scan.messages.count == 5)
        #expect(scan.skippedCount == 0)
        #expect(scan.messages.map(\.directory) == [.cur, .cur, .new, .new, .new])
        #expect(try scan.messages.map(subject) == [
            "Postfix message 1", "Postfix message 2", "Postfix message 3", "Postfix message 4", "Postfix no final newline",
        ])
        #expect(scan.messages.map(\.flags.description) == ["S", "FS", "", "", ""])
        for message in scan.messages {
            #expect(message.filename.size == nil, "Postfix writes no S=")
            let size = try message.size()
            #expect(size.byteCount == (try fileSize(message.path)))
            #expect(size.virtualByteCount == nil)
        }
        #expect(try maildir.folderNames().isEmpty)
    }

    @Test func dovecotFixture() throws {
        let maildir = try FixtureCopy.maildir("dovecot")
        let scan = try MaildirScanner(maildir: maildir).scan()
        #expect(scan.messages.count == 5)
        #expect(scan.messages.allSatisfy { $0.directory == .new }, "Dovecot leaves flagged messages in new/")
        #expect(scan.messages.map(\.flags.description) == ["S", "FRS", "", "", ""])
        #expect(try scan.messages.map(subject) == [
            "Dovecot message 1", "Dovecot message 2", "Dovecot no final newline", "Dovecot bare CR", "Dovecot message 5",
        ])
        for message in scan.messages {
            let size = try message.size()
            #expect(size.byteCount == (try fileSize(message.path)), "S= matches the file")
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: message.path)))
            let lineFeeds = bytes.filter { $0 == 10 }.count
            // Dovecot's W= counts a CR for each LF; bare CRs are counted as they are.
            #expect(size.virtualByteCount == bytes.count + lineFeeds)
        }
        let noNewline = try #require(scan.messages.first { try subject(of: $0) == "Dovecot no final newline" })
        #expect(try Data(contentsOf: URL(fileURLWithPath: noNewline.path)).last != 10)
        #expect(try maildir.folderNames() == ["Archive", "Lists.swift"])
        let archive = try #require(maildir.folder(named: "Archive"))
        let archived = try MaildirScanner(maildir: archive).scan().messages
        #expect(archived.count == 1)
        #expect(archived.first?.flags == "S")
        let lists = try MaildirScanner(maildir: try #require(maildir.folder(named: "Lists.swift"))).scan().messages
        #expect(try lists.map(subject) == ["List message"])
    }

    @Test func mblazeFixture() throws {
        let maildir = try FixtureCopy.maildir("mblaze")
        let scan = try MaildirScanner(maildir: maildir).scan()
        #expect(scan.messages.count == 4)
        #expect(scan.messages.map(\.directory) == [.new, .new, .new, .cur])
        #expect(scan.messages.map(\.flags.description) == ["R", "", "", "S"])
        #expect(scan.messages.allSatisfy { $0.filename.size == nil && $0.filename.info != nil }, "mblaze: no S=, always :2,")
        for message in scan.messages {
            #expect(try message.size().byteCount == (try fileSize(message.path)))
        }
        let bareCR = try #require(scan.messages.first { try subject(of: $0) == "mblaze bare CR" })
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bareCR.path)))
        #expect(bytes.suffix(2) == [13, 10], "mdeliver keeps the CRLF")
        #expect(bytes.contains(13))
        let noNewline = try #require(scan.messages.first { try subject(of: $0) == "mblaze no final newline" })
        #expect(try Data(contentsOf: URL(fileURLWithPath: noNewline.path)).last != 10)
    }

    @Test func skipsDotFilesDirectoriesAndBadNames() throws {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        for name in [".hidden", "bad:3,x", "2.M1P1.h,S=1", "1.M1P1.h:2,S"] {
            let directory = name.hasSuffix(":2,S") ? maildir.curPath : maildir.newPath
            #expect(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("x".utf8)))
        }
        try FileManager.default.createDirectory(atPath: maildir.curPath + "/1.subdir", withIntermediateDirectories: false)
        let scan = try MaildirScanner(maildir: maildir).scan()
        #expect(scan.messages.map(\.name) == ["1.M1P1.h:2,S", "2.M1P1.h,S=1"])
        #expect(scan.skippedCount == 3)
    }

    /// Another tool may write flags out of ASCII order (`:2,SR`); the scan keeps the name as it is on disk,
    /// so the message opens (formatting the parsed name would give `:2,RS`, a file that does not exist).
    @Test func namesAreKeptAsFoundOnDisk() throws {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        #expect(FileManager.default.createFile(atPath: maildir.curPath + "/1.M1P1.h,S=1:2,SR", contents: Data("x".utf8)))
        let scan = try MaildirScanner(maildir: maildir).scan()
        #expect(scan.messages.map(\.name) == ["1.M1P1.h,S=1:2,SR"])
        let descriptor = try #require(scan.messages.first).openForReading()
        close(descriptor)
        // Setting flags renames it to the formatted name.
        let renamed = try #require(scan.messages.first).addingFlags(MaildirFlags(letters: "T")!)
        #expect(renamed.name == "1.M1P1.h,S=1:2,RST")
        #expect(FileManager.default.fileExists(atPath: maildir.curPath + "/1.M1P1.h,S=1:2,RST"))
    }

    @Test func missingMaildirThrows() throws {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/absent")
        #expect(throws: SystemError.self) { try MaildirScanner(maildir: maildir).scan() }
    }

    @Test func vanishedMessageSizeIsDistinct() throws {
        let maildir = try FixtureCopy.maildir("postfix-virtual")
        let message = try #require(try MaildirScanner(maildir: maildir).scan().messages.first)
        try FileManager.default.removeItem(atPath: message.path)
        #expect(throws: MaildirError.messageVanished(path: message.path)) { try message.size() }
    }
}

extension MaildirScannerTests {
    @Test func scanOrderMatchesFilenameOrder() throws {
        let random = SeededRandomSource(seed: 99)
        let maildir = Maildir(path: "/nonexistent")
        var messages: [MaildirMessage] = []
        for _ in 0..<300 {
            let name = "\(random.next() % 5).M\(random.next() % 3)P1.h" + (random.next() % 2 == 0 ? ":2,S" : "")
            let odd = random.next() % 7 == 0 ? "x\(random.next() % 5)" : name
            let filename = try #require(MaildirFilename(odd))
            messages.append(MaildirMessage(maildir: maildir, directory: random.next() % 2 == 0 ? .new : .cur, filename: filename))
        }
        let sorted = MaildirScanner.deliveryOrder(messages)
        #expect(sorted.map(\.filename) == messages.map(\.filename).sorted())
    }
}

extension MaildirScannerTests {
    /// Our measured CRLF size agrees with the W= Dovecot wrote, including the no-final-newline and bare-CR messages.
    @Test func measuredSizeAgreesWithDovecot() throws {
        let maildir = try FixtureCopy.maildir("dovecot")
        for message in try MaildirScanner(maildir: maildir).scan().messages {
            let measured = try message.measureSize()
            #expect(measured.byteCount == message.filename.size)
            #expect(measured.virtualByteCount == message.filename.virtualSize)
        }
    }

    @Test func measuredSizeCountsOnlyBareLineFeeds() throws {
        let maildir = try FixtureCopy.maildir("mblaze")
        let messages = try MaildirScanner(maildir: maildir).scan().messages
        let bareCR = try #require(messages.first { try subject(of: $0) == "mblaze bare CR" })
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bareCR.path)))
        let lineFeeds = bytes.filter { $0 == 10 }.count
        // The last line ends in CRLF already: it adds nothing.
        #expect(try bareCR.measureSize() == MaildirMessage.Size(byteCount: bytes.count, virtualByteCount: bytes.count + lineFeeds - 1))
        try bareCR.delete()
        #expect(throws: MaildirError.messageVanished(path: bareCR.path)) { try bareCR.measureSize() }
    }
}

extension MaildirScannerTests {
    /// The sort's name comparison (memcmp on the stored bytes) answers what the UTF-8 views' lexicographic
    /// order answers: prefixes, empty names, bytes above 0x7F (non-ASCII names, as another tool may write).
    @Test(arguments: [
        ("1.M1P1.h", "1.M1P1.h"), ("1.M1P1.h", "1.M1P2.h"), ("1.M1P1.h", "1.M1P1.h:2,S"), ("", "a"), ("", ""),
        ("1.M1P1.höst", "1.M1P1.host"), ("é", "e\u{301}"), ("z", "é"), ("1.x", "1.X"), ("1\u{0}", "1"),
    ] as [(String, String)])
    func byteComparisonIsTheUTF8Order(first: String, second: String) {
        for (a, b) in [(first, second), (second, first)] {
            let expected = a.utf8.elementsEqual(b.utf8) ? 0 : (a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1)
            #expect(MaildirScanner.compareBytes(a, b).signum() == expected)
        }
    }
}
