// QuotaLiveTests: Maildir++ quota through a running server — 552 5.2.2 at RCPT when SIZE= says the message
// does not fit, at the end of DATA when it did not say, the users file's userdb_quota_rule, a message with
// several recipients, POP3 DELE+QUIT lowering the usage in maildirsize, and the configuration keys.

import Foundation
import PostOffice
import PostOfficeMaildir
import PostOfficeTesting
import Testing

@Suite struct QuotaLiveTests {
    static func body(bytes: Int) -> String {
        "Subject: quota\r\n\r\n" + String(repeating: "x", count: max(0, bytes - 20)) + "\r\n"
    }

    static func client(_ office: TestPostOffice) throws -> SMTPTestClient {
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        #expect(try client.command("EHLO client.test").code == 250)
        return client
    }

    static func maildir(_ office: TestPostOffice, _ user: String) throws -> Maildir {
        let address = try #require(MailAddress(user))
        return Maildir(path: try #require(office.server.maildirPath(for: address)))
    }

    /// Empty mailbox, quota 10,000 bytes: SIZE= at, just under and just over the limit.
    @Test(arguments: [(9_999, 250), (10_000, 250), (10_001, 552)])
    func recipientIsRefusedWhenTheDeclaredSizeDoesNotFit(size: Int, expected: Int) throws {
        let office = try TestPostOffice(users: ["alice@example.test": "secret"]) {
            $0.quota = MailboxQuota(storageBytes: 10_000)
        }
        defer { office.stop() }
        let client = try Self.client(office)
        #expect(try client.command("MAIL FROM:<sender@example.net> SIZE=\(size)").code == 250)
        let reply = try client.command("RCPT TO:<alice@example.test>")
        #expect(reply.code == expected, "\(reply)")
        if expected == 552 {
            #expect(reply.enhancedCode == "5.2.2")
            #expect(reply.description.contains("Mailbox full"))
            #expect(reply.description.contains("must delete mail"))
        }
    }

    @Test func messageWithoutSizeIsRefusedAtTheEndOfData() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "secret"]) {
            $0.quota = MailboxQuota(storageBytes: 1_000)
        }
        defer { office.stop() }
        let client = try Self.client(office)
        let small = try client.sendMail(from: "sender@example.net", to: ["alice@example.test"], body: Self.body(bytes: 300))
        #expect(small.code == 250, "\(small)")
        let big = try client.sendMail(from: "sender@example.net", to: ["alice@example.test"], body: Self.body(bytes: 900))
        #expect(big.code == 552, "\(big)")
        #expect(big.enhancedCode == "5.2.2")
        #expect(big.description.contains("must delete mail"))
        #expect(office.messages(for: "alice@example.test").count == 1)
        let usage = try #require(try Self.maildir(office, "alice@example.test").readMaildirSize()).contents.usage
        #expect(usage.messageCount == 1)
    }

    @Test func usersFileRuleOverridesTheDefault() throws {
        // TestPostOffice writes `user:{PLAIN}password`: the rest of the line rides in the password (test only).
        let office = try TestPostOffice(users: [
            "alice@example.test": "secret::::::userdb_quota_rule=*:messages=1",
            "bob@example.test": "secret",
        ]) {
            $0.quota = MailboxQuota(messageCount: 3)
        }
        defer { office.stop() }
        let client = try Self.client(office)
        #expect(try client.sendMail(from: "s@example.net", to: ["alice@example.test"], body: Self.body(bytes: 100)).code == 250)
        // Alice is at her limit: refused at RCPT, even without SIZE=.
        #expect(try client.command("MAIL FROM:<s@example.net>").code == 250)
        let refused = try client.command("RCPT TO:<alice@example.test>")
        #expect(refused.code == 552, "\(refused)")
        #expect(try client.command("RSET").code == 250)
        for _ in 0..<3 {
            #expect(try client.sendMail(from: "s@example.net", to: ["bob@example.test"], body: Self.body(bytes: 100)).code == 250)
        }
        #expect(try client.command("MAIL FROM:<s@example.net>").code == 250)
        #expect(try client.command("RCPT TO:<bob@example.test>").code == 552)
    }

    @Test func severalRecipientsOneOverQuotaDefersTheMessageThenSizeSeparatesThem() throws {
        let office = try TestPostOffice(users: [
            "alice@example.test": "secret::::::userdb_quota_rule=*:bytes=500",
            "bob@example.test": "secret",
        ])
        defer { office.stop() }
        let client = try Self.client(office)
        let body = Self.body(bytes: 1_000)
        // Without SIZE= both RCPTs pass; after DATA the message is deferred as a whole (4.2.2) and nobody has it.
        let first = try client.sendMail(from: "s@example.net", to: ["alice@example.test", "bob@example.test"], body: body)
        #expect(first.code == 452, "\(first)")
        #expect(first.enhancedCode == "4.2.2")
        #expect(office.messages(for: "bob@example.test").isEmpty)
        // The retry with SIZE=: alice is refused at RCPT, bob gets the message.
        #expect(try client.command("MAIL FROM:<s@example.net> SIZE=1000").code == 250)
        #expect(try client.command("RCPT TO:<alice@example.test>").code == 552)
        #expect(try client.command("RCPT TO:<bob@example.test>").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed(body))
        #expect(try client.readReply().code == 250)
        #expect(office.messages(for: "bob@example.test").count == 1)
        #expect(office.messages(for: "alice@example.test").isEmpty)
    }

    @Test func pop3DeleteLowersTheUsage() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "secret"]) {
            $0.quota = MailboxQuota(storageBytes: 1 << 20, messageCount: 100)
        }
        defer { office.stop() }
        let client = try Self.client(office)
        for size in [200, 300, 400] {
            #expect(try client.sendMail(from: "s@example.net", to: ["alice@example.test"], body: Self.body(bytes: size)).code == 250)
        }
        let maildir = try Self.maildir(office, "alice@example.test")
        let before = try #require(maildir.readMaildirSize()).contents.usage
        #expect(before.messageCount == 3)
        let pop = try POP3TestClient(connectingTo: office.pop3Address)
        try pop.login("alice@example.test", password: "secret")
        #expect(try pop.command("DELE 1").hasPrefix("+OK"))
        #expect(try pop.command("DELE 2").hasPrefix("+OK"))
        #expect(try pop.quit().hasPrefix("+OK"))
        let after = try #require(maildir.readMaildirSize()).contents
        #expect(after.usage.messageCount == 1)
        #expect(after.usage == (try maildir.countQuotaUsage()))
        #expect(after.usage.byteCount < before.byteCount)
    }

    @Test func configurationKeysParse() throws {
        let base = PostOfficeConfiguration(hostname: "mx.test", dataDirectory: "/data")
        let text = "quota = 1G\nquota_messages = 1000\nquota_full_tempfail = yes\nquota_warning = 90%\n"
        let c = try ConfigurationFile.parse(text, fileName: "po.conf", base: base)
        #expect(c.quota == MailboxQuota(storageBytes: 1 << 30, messageCount: 1000))
        #expect(c.quotaFullIsTemporary)
        #expect(c.quotaWarningPercent == 90)
        let again = try ConfigurationFile.parse(ConfigurationFile.render(c).joined(separator: "\n"), fileName: "r", base: base)
        #expect(again.quota == c.quota && again.quotaWarningPercent == 90)
        #expect(base.quota.isUnlimited && !base.quotaFullIsTemporary && base.quotaWarningPercent == nil)
        for bad in ["quota = lots\n", "quota_messages = -1\n", "quota_warning = 150\n", "quota_full_tempfail = maybe\n"] {
            #expect(throws: ConfigurationError.self) { try ConfigurationFile.parse(bad, fileName: "f", base: base) }
        }
    }
}
