// MaildropSemanticsTests: POP3 maildrop rules on a live server that the transcripts cannot script — a message
// delivered by SMTP during a session stays invisible until the next one, and a Maildir that Dovecot wrote
// keeps Dovecot's UIDLs. (IN-USE, dropped connections, DELE/RSET/QUIT and login failures: POP3LiveTranscripts.)

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct MaildropSemanticsTests {
    static let user = "alice@example.test"

    @Test func aMessageDeliveredDuringASessionAppearsInTheNextOne() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let smtp = try SMTPTestClient(connectingTo: office.smtpAddress)
        #expect(try smtp.readReply().code == 220)
        #expect(try smtp.command("EHLO client.example.net").code == 250)
        #expect(try smtp.sendMail(from: "s@example.net", to: [Self.user], body: "Subject: first\n\none\n").code == 250)

        let pop = try POP3TestClient(connectingTo: office.pop3Address)
        try pop.login(Self.user, password: "pw")
        #expect(try pop.stat().count == 1)
        let before = try pop.uniqueIDs()

        // Delivered while the maildrop is open: on disk at once, but not in this session's listing.
        #expect(try smtp.sendMail(from: "s@example.net", to: [Self.user], body: "Subject: second\n\ntwo\n").code == 250)
        #expect(office.messages(for: Self.user).count == 2)
        #expect(try pop.stat().count == 1)
        #expect(try pop.uniqueIDs() == before)
        #expect(try pop.command("RETR 2") == "-ERR No such message, only 1 messages in maildrop")
        #expect(try pop.command("DELE 1") == "+OK Message 1 deleted")
        #expect(try pop.quit() == "+OK PostOffice signing off (maildrop empty)")

        // The next session sees only the new message; the one deleted is gone.
        let next = try POP3TestClient(connectingTo: office.pop3Address)
        try next.login(Self.user, password: "pw")
        let listing = try next.uniqueIDs()
        #expect(listing.count == 1)
        #expect(Set(listing.values).isDisjoint(with: before.values))
        let lines = try next.retrieve(1)
        #expect(lines.contains("Subject: second"))
        #expect(lines.last == "two")
        try next.quit()
        #expect(try smtp.command("QUIT").code == 221)
    }

    /// Copies a fixture folder, leaving out the `.keep` placeholders (see maildir-fixtures/README.md).
    static func copyFixture(_ source: String, to destination: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source) where name != ".keep" {
            var isDirectory: ObjCBool = false
            _ = fm.fileExists(atPath: source + "/" + name, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                try copyFixture(source + "/" + name, to: destination + "/" + name)
            } else {
                try fm.copyItem(atPath: source + "/" + name, toPath: destination + "/" + name)
            }
        }
    }

    @Test func aDovecotMaildirKeepsDovecotsUIDLs() throws {
        let fixture = LiveTestSupport.repositoryRoot + "/maildir-fixtures/dovecot/Maildir"
        try #require(FileManager.default.fileExists(atPath: fixture + "/dovecot-uidlist"), "fixture missing")
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        try Self.copyFixture(fixture, to: maildir)

        // The uidlist's header holds the UIDVALIDITY (`V...`); each entry is `<uid> :<base name>`.
        let uidlist = try String(contentsOfFile: fixture + "/dovecot-uidlist", encoding: .utf8)
        let lines = uidlist.split(separator: "\n")
        let header = try #require(lines.first).split(separator: " ")
        let validity = try #require(header.first { $0.hasPrefix("V") }.flatMap { UInt32($0.dropFirst()) })
        var expectedByBaseName: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let uid = UInt32(parts[0]), parts[1].hasPrefix(":") else { continue }
            expectedByBaseName[String(parts[1].dropFirst())] = String(format: "%08X%08X", uid, validity)
        }
        #expect(expectedByBaseName.count == 5)

        let pop = try POP3TestClient(connectingTo: office.pop3Address)
        try pop.login(Self.user, password: "pw")
        let listing = try pop.uniqueIDs()
        // Only INBOX counts: the .Archive and .Lists.swift folders' messages are not in the maildrop.
        #expect(listing.count == 5)
        #expect(Set(listing.values) == Set(expectedByBaseName.values))
        // Each UIDL names the right message: RETR n returns the file whose uidlist entry has that UID.
        let files = LiveTestSupport.files(in: maildir + "/new")
        for (number, uniqueID) in listing {
            let baseName = try #require(expectedByBaseName.first { $0.value == uniqueID }?.key)
            let file = try #require(files.first { $0.hasPrefix(baseName) })
            let stored = try String(contentsOfFile: maildir + "/new/" + file, encoding: .utf8)
            let retrieved = try pop.retrieve(number)
            // Lines come back without their CRLF; a file without a final newline gets none added.
            let joined = retrieved.joined(separator: "\n")
            let expected = LiveTestSupport.normalized(stored)
            #expect(joined + "\n" == expected || joined == expected,
                "message \(number) (\(file))")
        }
        #expect(try pop.quit().hasPrefix("+OK"))
        // A second session lists the same UIDLs (and the messages read are now in cur/ with S).
        let again = try POP3TestClient(connectingTo: office.pop3Address)
        try again.login(Self.user, password: "pw")
        #expect(try again.uniqueIDs() == listing)
        try again.quit()
    }
}
