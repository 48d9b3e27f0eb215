// MaildirSize: the contents of a Maildir++ `maildirsize` file — the quota header and the running
// `<bytes> <count>` lines — parsed without I/O, and the rule for when the file must be recalculated.

import PostOfficeCore

/// A parsed `maildirsize` file ([Maildir++ quota](https://www.courier-mta.org/imap/README.maildirquota.html)).
///
/// The first line is the quota (``MailboxQuota/maildirSizeHeader``); every further line is `<bytes> <count>`,
/// a delta (negative for removals); the usage is their sum. Courier, maildrop, Exim and Dovecot's `maildir`
/// quota backend read and write the same file.
public struct MaildirSize: Hashable, Sendable {
    /// The file's name in the Maildir root.
    public static let fileName = "maildirsize"
    /// A file this large (or larger) is recalculated rather than read (Maildir++: 5120 bytes).
    public static let maximumFileSize = 5120
    /// An over-quota file older than this is recalculated before anything is refused (Maildir++: 15 minutes).
    public static let staleSeconds: Int64 = 15 * 60

    /// The limits in the header.
    public var quota: MailboxQuota
    /// The sum of the lines.
    public var usage: MaildirQuotaUsage
    /// How many `<bytes> <count>` lines follow the header.
    public var lineCount: Int

    public init(quota: MailboxQuota, usage: MaildirQuotaUsage, lineCount: Int) {
        self.quota = quota
        self.usage = usage
        self.lineCount = lineCount
    }

    /// Parses the file's bytes. Returns nil when the file is unusable and must be recalculated: empty, a NUL
    /// byte, a header or line that does not parse, or negative totals. A last line without its line feed
    /// (a write cut short) is ignored, as Dovecot does.
    public init?(parsing bytes: [UInt8]) {
        guard !bytes.contains(0) else { return nil }
        var text = bytes[...]
        while let last = text.last, last != UInt8(ascii: "\n") { text = text.dropLast() }
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        guard let header = lines.first,
            let quota = MailboxQuota(maildirSizeHeader: String(decoding: header, as: UTF8.self))
        else { return nil }
        var bytesTotal = 0
        var countTotal = 0
        for line in lines.dropFirst() {
            let fields = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            guard fields.count == 2, let delta = Self.signed(fields[0]), let count = Self.signed(fields[1]) else { return nil }
            bytesTotal += delta
            countTotal += count
        }
        guard bytesTotal >= 0, countTotal >= 0 else { return nil }
        self.init(quota: quota, usage: MaildirQuotaUsage(byteCount: bytesTotal, messageCount: countTotal), lineCount: lines.count - 1)
    }

    /// The file's text for a fresh calculation: the header and one line.
    public static func text(quota: MailboxQuota, usage: MaildirQuotaUsage) -> String {
        "\(quota.maildirSizeHeader)\n\(usage.byteCount) \(usage.messageCount)\n"
    }

    /// A delta line.
    public static func line(bytes: Int, messages: Int) -> String { "\(bytes) \(messages)\n" }

    /// True when this file cannot be trusted for `quota` and the Maildir must be counted again: its header
    /// names other limits (the configuration changed), it is too large to read (``maximumFileSize``), or it
    /// says the mailbox is over quota while it has more than one line or was last written more than
    /// ``staleSeconds`` ago — the Maildir++ rule, so nobody is refused on figures that deletions made by other
    /// programs may have left behind.
    public func needsRecalculation(for quota: MailboxQuota, fileSize: Int, modifiedAt: Int64, now: Int64) -> Bool {
        if self.quota != quota || fileSize >= Self.maximumFileSize { return true }
        let over = (quota.storageBytes.map { usage.byteCount > $0 } ?? false)
            || (quota.messageCount.map { usage.messageCount > $0 } ?? false)
        return over && (lineCount > 1 || modifiedAt < now - Self.staleSeconds)
    }

    private static func signed(_ field: ArraySlice<UInt8>) -> Int? {
        var digits = field
        var negative = false
        if digits.first == UInt8(ascii: "-") { negative = true; digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18,
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        return negative ? -value : value
    }
}

/// Bytes and messages counted against a quota.
public struct MaildirQuotaUsage: Hashable, Sendable, CustomStringConvertible {
    public var byteCount: Int
    public var messageCount: Int

    public init(byteCount: Int, messageCount: Int) {
        self.byteCount = byteCount
        self.messageCount = messageCount
    }

    public static let zero = MaildirQuotaUsage(byteCount: 0, messageCount: 0)

    /// True when `bytes` more in `messages` more messages stay within `quota` (reaching a limit exactly is allowed).
    public func admits(bytes: Int, messages: Int, within quota: MailboxQuota) -> Bool {
        if let limit = quota.storageBytes, byteCount + bytes > limit { return false }
        if let limit = quota.messageCount, messageCount + messages > limit { return false }
        return true
    }

    /// True when this usage is at or above `percent` % of either limit of `quota`.
    public func reaches(percent: Int, of quota: MailboxQuota) -> Bool {
        func reached(_ used: Int, _ limit: Int?) -> Bool {
            guard let limit else { return false }
            let threshold = limit.multipliedReportingOverflow(by: percent)
            return !threshold.overflow && used.multipliedReportingOverflow(by: 100).partialValue >= threshold.partialValue
        }
        return reached(byteCount, quota.storageBytes) || reached(messageCount, quota.messageCount)
    }

    public var description: String { "\(byteCount) bytes in \(messageCount) messages" }
}
