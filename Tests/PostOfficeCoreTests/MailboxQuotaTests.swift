// MailboxQuotaTests: the quota values of the configuration (`quota = 1G`), the users file's Dovecot quota
// rules (`*:storage=2G`) and the Maildir++ maildirsize header (`1073741824S,1000C`).

import Testing
import PostOfficeCore

@Suite struct MailboxQuotaTests {
    @Test(arguments: [
        ("0", 0), ("1024", 1024), ("1K", 1024), ("1k", 1024), ("10M", 10 << 20), ("1G", 1 << 30), ("2T", 2 << 40),
        ("512B", 512), (" 3G ", 3 << 30),
    ])
    func sizesParse(text: String, bytes: Int) {
        #expect(MailboxQuota.parseSize(text) == bytes)
    }

    @Test(arguments: ["", "G", "1X", "-1G", "1.5G", "1GB", "99999999999999999999", "9999999999999T"])
    func badSizesAreRefused(text: String) {
        #expect(MailboxQuota.parseSize(text) == nil)
    }

    @Test(arguments: [
        ("*:storage=2G", MailboxQuota(storageBytes: 2 << 30, messageCount: 50)),
        ("*:storage=1024", MailboxQuota(storageBytes: 1 << 20, messageCount: 50)),  // Dovecot: kilobytes
        ("*:bytes=1000", MailboxQuota(storageBytes: 1000, messageCount: 50)),
        ("*:messages=7", MailboxQuota(storageBytes: 1 << 20, messageCount: 7)),
        ("*:storage=5M:messages=3", MailboxQuota(storageBytes: 5 << 20, messageCount: 3)),
        ("*:storage=0", MailboxQuota(storageBytes: nil, messageCount: 50)),
        ("*:ignore", MailboxQuota.unlimited),
    ])
    func dovecotRulesApplyOnTopOfTheDefault(rule: String, expected: MailboxQuota) {
        var quota = MailboxQuota(storageBytes: 1 << 20, messageCount: 50)
        let applied = quota.apply(dovecotRule: rule)
        #expect(applied)
        #expect(quota == expected)
    }

    @Test(arguments: ["Trash:storage=+100M", "*:storage=10%", "*:storage=+1G", "*:size=1G", "*:storage", "storage=1G"])
    func rulesWeDoNotSupportAreRefused(rule: String) {
        var quota = MailboxQuota()
        let applied = quota.apply(dovecotRule: rule)
        #expect(!applied)
    }

    @Test(arguments: [
        (MailboxQuota(storageBytes: 1_073_741_824, messageCount: 1000), "1073741824S,1000C"),
        (MailboxQuota(storageBytes: 1_048_576), "1048576S"),
        (MailboxQuota(messageCount: 100), "100C"),
        (MailboxQuota.unlimited, "0S"),
    ])
    func maildirSizeHeaderRoundTrips(quota: MailboxQuota, header: String) {
        #expect(quota.maildirSizeHeader == header)
        #expect(MailboxQuota(maildirSizeHeader: header) == quota)
    }

    @Test func headersOfOtherWritersParse() {
        #expect(MailboxQuota(maildirSizeHeader: "0S,0C") == .unlimited)
        #expect(MailboxQuota(maildirSizeHeader: "100C,2048S") == MailboxQuota(storageBytes: 2048, messageCount: 100))
        #expect(MailboxQuota(maildirSizeHeader: "2048X") == nil)
        #expect(MailboxQuota(maildirSizeHeader: "") == nil)
    }
}
