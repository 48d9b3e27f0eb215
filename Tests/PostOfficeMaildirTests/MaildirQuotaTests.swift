// MaildirQuotaTests: the Maildir++ maildirsize file — parsing, the recalculation rule (missing, garbled,
// other limits, too large, stale while over quota), counting a Maildir with its folders, and O_APPEND deltas.

import Foundation
import Testing
import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirQuotaTests {
    static func makeMaildir() throws -> Maildir {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("po-quota-\(UUID().uuidString)").path
        let maildir = Maildir(path: path + "/Maildir")
        try maildir.create()
        return maildir
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    @Test(arguments: [
        ("1000S,10C\n300 3\n", 300, 3, 1),
        ("1000S,10C\n300 3\n-100 -1\n50 1\n", 250, 3, 3),
        ("0S\n", 0, 0, 0),
        ("1000S\n  300   3\n", 300, 3, 1),             // Courier pads its numbers
        ("1000S,10C\n300 3\n40 1", 300, 3, 1),         // a last line cut short is ignored
    ])
    func filesParse(text: String, bytes: Int, messages: Int, lines: Int) throws {
        let parsed = try #require(MaildirSize(parsing: Array(text.utf8)))
        #expect(parsed.usage == MaildirQuotaUsage(byteCount: bytes, messageCount: messages))
        #expect(parsed.lineCount == lines)
    }

    @Test(arguments: ["", "\n", "1000Q\n1 1\n", "1000S\n1 x\n", "1000S\n1\n", "1000S\n-5 -1\n", "1000S\n1 1\u{0}\n"])
    func garbledFilesAreRefused(text: String) {
        #expect(MaildirSize(parsing: Array(text.utf8)) == nil)
    }

    /// When must the file be counted again? Quota 1000 bytes / 10 messages, now = 10,000 s.
    @Test(arguments: [
        ("1000S,10C\n300 3\n", 100, 9_990, false, "fresh, under quota"),
        ("1000S,10C\n1000 10\n", 100, 9_990, false, "exactly at the limits is not over"),
        ("2000S,10C\n300 3\n", 100, 9_990, true, "written for other limits"),
        ("1000S,10C\n300 3\n", 5120, 9_990, true, "5120 bytes or more"),
        ("1000S,10C\n1001 3\n", 100, 9_990, false, "over, one line, recent: trusted"),
        ("1000S,10C\n1001 3\n", 100, 10_000 - 901, true, "over and older than 15 minutes"),
        ("1000S,10C\n900 3\n101 1\n", 100, 9_990, true, "over with several lines"),
        ("1000S,10C\n300 11\n", 100, 10_000 - 3_600, true, "over the count and stale"),
        ("1000S,10C\n300 3\n", 100, 0, false, "old but under quota"),
    ])
    func recalculationRule(text: String, size: Int, modified: Int64, expected: Bool, why: String) throws {
        let parsed = try #require(MaildirSize(parsing: Array(text.utf8)))
        let quota = MailboxQuota(storageBytes: 1000, messageCount: 10)
        #expect(parsed.needsRecalculation(for: quota, fileSize: size, modifiedAt: modified, now: 10_000) == expected, "\(why)")
    }

    @Test func countingIncludesFoldersAndStatsNamesWithoutSize() throws {
        let maildir = try Self.makeMaildir()
        try Self.write("12345", to: maildir.newPath + "/1.a.host,S=100")
        try Self.write("x", to: maildir.curPath + "/2.b.host,S=50:2,S")
        try Self.write("seven b", to: maildir.curPath + "/3.c.host:2,")          // no S=: stat says 7
        try Self.write("ignored", to: maildir.tmpPath + "/4.d.host,S=1000")      // tmp/ does not count
        let archive = try #require(try maildir.createFolder(named: "Archive"))
        try Self.write("z", to: archive.curPath + "/5.e.host,S=25:2,S")
        let usage = try maildir.countQuotaUsage()
        #expect(usage == MaildirQuotaUsage(byteCount: 182, messageCount: 4))
    }

    @Test func missingFileIsCountedAndWritten() throws {
        let maildir = try Self.makeMaildir()
        try Self.write("a", to: maildir.newPath + "/1.a.host,S=100")
        let quota = MailboxQuota(storageBytes: 1 << 30, messageCount: 1000)
        let first = try maildir.quotaUsage(for: quota, now: 1_000)
        #expect(first.recalculated)
        #expect(first.usage == MaildirQuotaUsage(byteCount: 100, messageCount: 1))
        let text = try String(contentsOfFile: maildir.maildirSizePath, encoding: .utf8)
        #expect(text == "1073741824S,1000C\n100 1\n")
        // Read back without counting again.
        let second = try maildir.quotaUsage(for: quota, now: 1_000)
        #expect(!second.recalculated)
        #expect(second.usage == first.usage)
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath).isEmpty)
    }

    @Test func deltasAreAppendedAndRead() throws {
        let maildir = try Self.makeMaildir()
        // No file yet: appending does nothing (the next reader counts).
        try maildir.appendQuotaDelta(bytes: 10, messages: 1)
        #expect(!FileManager.default.fileExists(atPath: maildir.maildirSizePath))
        let quota = MailboxQuota(storageBytes: 5000)
        _ = try maildir.quotaUsage(for: quota, now: 0)
        try maildir.appendQuotaDelta(bytes: 300, messages: 2)
        try maildir.appendQuotaDelta(bytes: -100, messages: -1)
        let text = try String(contentsOfFile: maildir.maildirSizePath, encoding: .utf8)
        #expect(text == "5000S\n0 0\n300 2\n-100 -1\n")
        #expect(try maildir.quotaUsage(for: quota, now: 0).usage == MaildirQuotaUsage(byteCount: 200, messageCount: 1))
    }

    @Test(arguments: [
        ("garbage\n", "garbled"),
        ("100S\n0 0\n", "other limits"),
        ("5000S\n" + String(repeating: "1 0\n", count: 1300), "over 5120 bytes"),
        ("5000S\n9000 1\n1 0\n", "over quota with several lines"),
    ])
    func untrustworthyFilesAreRecalculated(text: String, why: String) throws {
        let maildir = try Self.makeMaildir()
        try Self.write("a", to: maildir.curPath + "/1.a.host,S=40:2,S")
        try Self.write(text, to: maildir.maildirSizePath)
        let result = try maildir.quotaUsage(for: MailboxQuota(storageBytes: 5000), now: 100)
        #expect(result.recalculated, "\(why)")
        #expect(result.usage == MaildirQuotaUsage(byteCount: 40, messageCount: 1))
        #expect(try String(contentsOfFile: maildir.maildirSizePath, encoding: .utf8) == "5000S\n40 1\n")
    }

    @Test func staleOverQuotaFileIsRecalculatedByTheInjectedClock() throws {
        let maildir = try Self.makeMaildir()
        try Self.write("a", to: maildir.curPath + "/1.a.host,S=40:2,S")
        try Self.write("100S\n500 1\n", to: maildir.maildirSizePath)   // over quota, one line: trusted while fresh
        var times = [timespec(tv_sec: 1_000, tv_nsec: 0), timespec(tv_sec: 1_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, maildir.maildirSizePath, &times, 0) == 0)
        let quota = MailboxQuota(storageBytes: 100)
        let fresh = try maildir.quotaUsage(for: quota, now: 1_000 + 60)
        #expect(!fresh.recalculated)
        #expect(fresh.usage.byteCount == 500)
        let stale = try maildir.quotaUsage(for: quota, now: 1_000 + 15 * 60 + 1)
        #expect(stale.recalculated)
        #expect(stale.usage == MaildirQuotaUsage(byteCount: 40, messageCount: 1))
    }

    @Test(arguments: [
        (899, 1, false), (900, 1, true), (1200, 1, true), (0, 9, true), (0, 8, false),
    ])
    func warningLine(bytes: Int, messages: Int, expected: Bool) {
        let quota = MailboxQuota(storageBytes: 1000, messageCount: 10)
        #expect(MaildirQuotaUsage(byteCount: bytes, messageCount: messages).reaches(percent: 90, of: quota) == expected)
    }

    @Test func warningMarkerIsClaimedOnce() throws {
        let maildir = try Self.makeMaildir()
        #expect(try maildir.claimQuotaWarning())
        #expect(try !maildir.claimQuotaWarning())
        maildir.clearQuotaWarning()
        #expect(try maildir.claimQuotaWarning())
    }
}
