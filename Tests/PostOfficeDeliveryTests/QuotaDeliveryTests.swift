// QuotaDeliveryTests: Maildir++ quota in local delivery — at, just under and over the storage and count
// limits, per-user overrides, the one warning at quota_warning percent, deliver's exit codes (77, or 75 with
// quota_full_tempfail), and Dovecot (doveadm quota get / recalc) reading the maildirsize we keep and we its.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct QuotaDeliveryTests {
    static let message = bytes("From: sender@example.com\r\nSubject: quota\r\n\r\n" + String(repeating: "0123456789\r\n", count: 20))

    /// The stored size of ``message`` for alice (trace headers included), measured without a quota.
    static func storedSize() throws -> Int {
        let fixture = DeliveryFixture()
        #expect(try fixture.deliver(message, to: ["alice@example.org"]).overall.isDelivered)
        return try #require(fixture.storedMessages(fixture.maildir("alice", domain: "example.org")).first).bytes.count
    }

    /// Storage limit relative to two messages: at it (accepted), one byte short (refused), one byte over (accepted).
    @Test(arguments: [(0, true), (-1, false), (1, true)])
    func secondMessageAgainstTheStorageLimit(slack: Int, accepted: Bool) throws {
        let size = try Self.storedSize()
        let fixture = DeliveryFixture(quota: MailboxQuota(storageBytes: 2 * size + slack))
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        let second = try fixture.deliver(Self.message, to: ["alice@example.org"]).overall
        #expect(second.isDelivered == accepted)
        let alice = fixture.maildir("alice", domain: "example.org")
        #expect(files(in: alice.newPath).count == (accepted ? 2 : 1))
        #expect(files(in: alice.tmpPath).isEmpty)
        if !accepted {
            #expect(second.statusCode == EnhancedStatusCode(5, 2, 2))
            #expect(second.reason.contains("Mailbox full"))
            #expect(second.reason.contains("must delete mail"))
        }
        let usage = try #require(alice.readMaildirSize()).contents.usage
        #expect(usage == MaildirQuotaUsage(byteCount: (accepted ? 2 : 1) * size, messageCount: accepted ? 2 : 1))
    }

    /// Count limit 3: the third message reaches it, the fourth is refused.
    @Test(arguments: [(2, true), (3, false)])
    func messageCountLimit(already: Int, accepted: Bool) throws {
        let fixture = DeliveryFixture(quota: MailboxQuota(messageCount: 3))
        for _ in 0..<already {
            #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        }
        let next = try fixture.deliver(Self.message, to: ["alice@example.org"]).overall
        #expect(next.isDelivered == accepted)
        #expect(files(in: fixture.maildir("alice", domain: "example.org").newPath).count == (accepted ? already + 1 : already))
    }

    @Test func perUserOverrideReplacesTheDefault() throws {
        var directory = DeliveryDirectory(
            localDomains: ["example.org"], users: ["alice@example.org", "bob@example.org"])
        directory.setQuota(MailboxQuota(messageCount: 5), forUser: "Bob@Example.org")
        let fixture = DeliveryFixture(directory: directory, quota: MailboxQuota(messageCount: 1))
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.statusCode == EnhancedStatusCode(5, 2, 2))
        for _ in 0..<5 {
            #expect(try fixture.deliver(Self.message, to: ["bob@example.org"]).overall.isDelivered)
        }
        #expect(try fixture.deliver(Self.message, to: ["bob@example.org"]).overall.statusCode == EnhancedStatusCode(5, 2, 2))
        #expect(fixture.agent.quota(for: fixture.address("BOB@example.org")) == MailboxQuota(messageCount: 5))
    }

    @Test func severalRecipientsOneFullIsTemporaryForTheWholeMessage() throws {
        var directory = DeliveryDirectory(localDomains: ["example.org"], users: ["alice@example.org", "bob@example.org"])
        directory.setQuota(MailboxQuota(messageCount: 1), forUser: "bob@example.org")
        let fixture = DeliveryFixture(directory: directory)
        #expect(try fixture.deliver(Self.message, to: ["bob@example.org"]).overall.isDelivered)
        let result = try fixture.deliver(Self.message, to: ["alice@example.org", "bob@example.org"])
        #expect(result.overall.statusCode == EnhancedStatusCode(4, 2, 2))
        // All or nothing: alice got nothing either, and nothing is left in tmp/.
        #expect(files(in: fixture.maildir("alice", domain: "example.org").newPath).isEmpty)
        #expect(files(in: fixture.maildir("alice", domain: "example.org").tmpPath).isEmpty)
        // What an SMTP session checks at RCPT with SIZE= (or without, once the mailbox is at its limit).
        let bobBoxes = fixture.agent.resolve(fixture.address("bob@example.org")).mailboxes
        #expect(fixture.agent.quotaRefusal(for: bobBoxes, size: 0)?.statusCode == EnhancedStatusCode(5, 2, 2))
        let aliceBoxes = fixture.agent.resolve(fixture.address("alice@example.org")).mailboxes
        #expect(fixture.agent.quotaRefusal(for: aliceBoxes, size: 10_000) == nil)
    }

    @Test func refusalAtRecipientTimeUsesTheDeclaredSize() throws {
        let size = try Self.storedSize()
        let fixture = DeliveryFixture(quota: MailboxQuota(storageBytes: 2 * size))
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        let boxes = fixture.agent.resolve(fixture.address("alice@example.org")).mailboxes
        #expect(fixture.agent.quotaRefusal(for: boxes, size: size) == nil)
        #expect(fixture.agent.quotaRefusal(for: boxes, size: size + 1)?.statusCode == EnhancedStatusCode(5, 2, 2))
    }

    @Test(arguments: [(false, DeliverCommand.exitOverQuota), (true, DeliverCommand.exitTemporaryFailure)])
    func deliverExitsLikeDovecotLDA(temporary: Bool, expected: Int32) throws {
        let fixture = DeliveryFixture(quota: MailboxQuota(messageCount: 1), quotaFullIsTemporary: temporary)
        #expect(DeliverCommandTests.run(["alice@example.org"], input: Self.message, fixture: fixture).0 == 0)
        let (code, errors) = DeliverCommandTests.run(["alice@example.org"], input: Self.message, fixture: fixture)
        #expect(code == expected)
        #expect(expected == (temporary ? 75 : 77))
        #expect(errors.contains(temporary ? "4.2.2" : "5.2.2"))
        #expect(errors.contains("must delete mail"))
    }

    @Test func warningIsDeliveredOnceWhenUsageReachesThePercentage() throws {
        let fixture = DeliveryFixture(quota: MailboxQuota(messageCount: 10), quotaWarningPercent: 50)
        let alice = fixture.maildir("alice", domain: "example.org")
        func warnings() -> [String] {
            files(in: alice.newPath).map { String(decoding: contents(of: alice.newPath + "/" + $0), as: UTF8.self) }
                .filter { $0.contains("Subject: Your mailbox is 50% full") }
        }
        for _ in 0..<3 {
            #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        }
        #expect(warnings().isEmpty)
        // 4 of 10 messages is 40 %: no warning yet; the fifth reaches 50 %.
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        #expect(warnings().isEmpty)
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        #expect(warnings().count == 1)
        // The warning counts too (6 messages), and later deliveries above the line send no second one.
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        #expect(warnings().count == 1)
        let warning = try #require(warnings().first)
        #expect(warning.contains("To: <alice@example.org>"))
        #expect(warning.contains("Auto-Submitted: auto-generated"))
        #expect(try #require(alice.readMaildirSize()).contents.usage.messageCount == 8)
        #expect(fixture.logs.records.filter { $0.event == "quota.warning_sent" }.count == 1)
        #expect(FileManager.default.fileExists(atPath: alice.quotaWarningMarkerPath))
        // The user deletes mail (as POP3 does: unlink, then a negative line): below the line, the marker goes,
        // and the next crossing warns again.
        let names = files(in: alice.newPath)
        var removed = 0
        for name in names.prefix(6) {
            removed += contents(of: alice.newPath + "/" + name).count
            unlink(alice.newPath + "/" + name)
        }
        try alice.appendQuotaDelta(bytes: -removed, messages: -6)
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)   // 3 of 10
        #expect(!FileManager.default.fileExists(atPath: alice.quotaWarningMarkerPath))
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)   // 4
        #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)   // 5: warns
        #expect(fixture.logs.records.filter { $0.event == "quota.warning_sent" }.count == 2)
    }

    @Test func mailboxAlreadyAboveTheLineIsWarnedOnceToo() throws {
        // quota_warning switched on with the mailbox already at 30 % (files another program delivered).
        let fixture = DeliveryFixture(quota: MailboxQuota(messageCount: 10), quotaWarningPercent: 20)
        let alice = fixture.maildir("alice", domain: "example.org")
        try alice.create()
        for index in 0..<3 {
            try "Subject: old\n\nold\n".write(toFile: alice.curPath + "/\(index).old.host,S=19:2,S", atomically: false, encoding: .utf8)
        }
        for _ in 0..<2 {
            let outcome = try fixture.deliver(Self.message, to: ["alice@example.org"]).overall
            #expect(outcome.isDelivered, "\(outcome)")
        }
        #expect(fixture.logs.records.filter { $0.event == "quota.warning_sent" }.count == 1)
    }

    // MARK: - Dovecot reads our maildirsize, and we read Dovecot's

    /// A private doveadm configuration with the maildir quota backend over `maildir`, as nobody when root.
    static func doveadm(_ arguments: [String], maildir: Maildir, root: String, quota: String) throws -> (Int32, String, String) {
        var uid = getuid()
        var gid = getgid()
        if uid == 0 {
            uid = 65534
            gid = 65534
            let (status, _, errors) = try ExternalTool.run("chown", ["-R", "65534:65534", root])
            try #require(status == 0, "chown failed: \(errors)")
        }
        let configuration = root + "/dovecot-quota.conf"
        let text = """
            mail_location = maildir:\(maildir.path)
            ssl = no
            mail_uid = \(uid)
            mail_gid = \(gid)
            first_valid_uid = 0
            first_valid_gid = 0
            log_path = /dev/stderr
            mail_plugins = quota
            plugin {
              quota = maildir:User quota
              \(quota)
            }

            """
        try text.write(toFile: configuration, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["USER"] = "tester"
        environment["HOME"] = root
        return try ExternalTool.run("doveadm", ["-f", "tab", "-c", configuration] + arguments, environment: environment)
    }

    /// `doveadm quota get` rows: type → (value, limit).
    static func quotaRows(_ output: String) -> [String: (Int, Int)] {
        var rows: [String: (Int, Int)] = [:]
        for line in output.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count >= 4, let value = Int(fields[2]), let limit = Int(fields[3]) else { continue }
            rows[fields[1]] = (value, limit)
        }
        return rows
    }

    @Test(.enabled(if: ExternalTool.exists("doveadm"), "dovecot (doveadm) is not installed"))
    func dovecotReadsTheMaildirSizeWeKeep() throws {
        let fixture = DeliveryFixture(quota: MailboxQuota(storageBytes: 1 << 20, messageCount: 100))
        for _ in 0..<3 {
            #expect(try fixture.deliver(Self.message, to: ["alice@example.org"]).overall.isDelivered)
        }
        let alice = fixture.maildir("alice", domain: "example.org")
        let ours = try #require(alice.readMaildirSize()).contents
        #expect(ours.usage.messageCount == 3)
        #expect(ours.lineCount >= 2)   // the count plus appended deltas: Dovecot must sum them, not recount
        let rules = "quota_rule = *:storage=1M\n  quota_rule2 = *:messages=100"
        let (status, output, errors) = try Self.doveadm(["quota", "get"], maildir: alice, root: fixture.root, quota: rules)
        #expect(status == 0, "doveadm quota get failed: \(errors)")
        let rows = Self.quotaRows(output)
        #expect(rows["MESSAGE"]?.0 == 3, "\(output)")
        #expect(rows["MESSAGE"]?.1 == 100)
        #expect(rows["STORAGE"]?.0 == (ours.usage.byteCount + 1023) / 1024, "\(output)")   // doveadm shows kilobytes
        #expect(rows["STORAGE"]?.1 == 1024)
        // Dovecot's own count agrees with ours to the byte.
        let (recalcStatus, _, recalcErrors) = try Self.doveadm(["quota", "recalc"], maildir: alice, root: fixture.root, quota: rules)
        #expect(recalcStatus == 0, "doveadm quota recalc failed: \(recalcErrors)")
        let theirs = try #require(alice.readMaildirSize()).contents
        #expect(theirs.usage == ours.usage)
        #expect(theirs.quota == ours.quota)
        #expect(theirs.usage == (try alice.countQuotaUsage()))
    }

    @Test(.enabled(if: ExternalTool.exists("doveadm"), "dovecot (doveadm) is not installed"))
    func weReadTheMaildirSizeDovecotKeeps() throws {
        let root = makeTemporaryDirectory("dovecot-quota")
        let maildir = Maildir(path: root + "/Maildir")
        try maildir.create()
        let rules = "quota_rule = *:storage=2M\n  quota_rule2 = *:messages=50"
        let (status, _, errors) = try Self.doveadm(["quota", "recalc"], maildir: maildir, root: root, quota: rules)
        #expect(status == 0, "doveadm quota recalc failed: \(errors)")
        let environmentRoot = root
        for index in 0..<3 {
            let input = root + "/message-\(index)"
            try "Subject: saved \(index)\n\nSaved by doveadm save.\n".write(toFile: input, atomically: true, encoding: .utf8)
            let (saveStatus, _, saveErrors) = try ExternalTool.run("sh", ["-c", "doveadm -c \(environmentRoot)/dovecot-quota.conf save < \(input)"],
                environment: ProcessInfo.processInfo.environment.merging(["USER": "tester", "HOME": root]) { $1 })
            #expect(saveStatus == 0, "doveadm save failed: \(saveErrors)")
        }
        let file = try #require(maildir.readMaildirSize())
        #expect(file.contents.quota == MailboxQuota(storageBytes: 2 << 20, messageCount: 50))
        #expect(file.contents.lineCount == 4)   // Dovecot's count and its three appended lines
        let read = try maildir.quotaUsage(for: MailboxQuota(storageBytes: 2 << 20, messageCount: 50), now: Int64(Date().timeIntervalSince1970))
        #expect(!read.recalculated)
        #expect(read.usage.messageCount == 3)
        #expect(read.usage == (try maildir.countQuotaUsage()))
    }
}
