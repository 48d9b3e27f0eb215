// MailboxQuota: a user's storage and message-count limits, as the configuration (`quota = 1G`), the users
// file (Dovecot's `userdb_quota_rule=*:storage=2G`) and a Maildir++ `maildirsize` header (`1073741824S,1000C`)
// write them. Plain values and parsers; storage decides what to do with them.

/// Storage and message-count limits of one mailbox. nil (or 0 in the textual forms) means no limit.
///
/// Sizes follow Dovecot's quota rules: binary multiples (`K` = 1024 bytes, `M`, `G`, `T`), case-insensitive.
/// See [Dovecot quota configuration](https://doc.dovecot.org/2.3/configuration_manual/quota/) and the
/// [Maildir++ quota specification](https://www.courier-mta.org/imap/README.maildirquota.html).
public struct MailboxQuota: Hashable, Sendable, CustomStringConvertible {
    /// Largest total size of the messages, in bytes; nil for no limit.
    public var storageBytes: Int?
    /// Most messages; nil for no limit.
    public var messageCount: Int?

    public init(storageBytes: Int? = nil, messageCount: Int? = nil) {
        self.storageBytes = storageBytes.flatMap { $0 > 0 ? $0 : nil }
        self.messageCount = messageCount.flatMap { $0 > 0 ? $0 : nil }
    }

    /// No limit at all.
    public static let unlimited = MailboxQuota()

    /// True when neither limit is set.
    public var isUnlimited: Bool { storageBytes == nil && messageCount == nil }

    /// The Maildir++ header line without its line feed: `1073741824S,1000C`, `1048576S`, `100C`, or `0S` when
    /// unlimited (as Dovecot writes it, so the line is never empty).
    public var maildirSizeHeader: String {
        var parts: [String] = []
        if let storageBytes { parts.append("\(storageBytes)S") }
        if let messageCount { parts.append("\(messageCount)C") }
        return parts.isEmpty ? "0S" : parts.joined(separator: ",")
    }

    /// Parses a Maildir++ header line (`<bytes>S,<count>C`, either part optional, `0` meaning none).
    /// Returns nil when a part is not a number followed by `S` or `C`.
    public init?(maildirSizeHeader line: String) {
        var quota = MailboxQuota()
        for part in line.split(separator: ",", omittingEmptySubsequences: false) {
            guard let kind = part.last, let value = Self.decimal(part.dropLast()) else { return nil }
            switch kind {
            case "S": quota.storageBytes = value > 0 ? value : nil
            case "C": quota.messageCount = value > 0 ? value : nil
            default: return nil
            }
        }
        self = quota
    }

    /// Parses a size with an optional suffix `B`, `K`, `M`, `G` or `T` (binary multiples, any case).
    /// A bare number is counted in `bareUnit` bytes (1 for `quota = `; Dovecot's `storage=` rule uses 1024).
    /// Returns nil for anything else, negative values and overflow.
    public static func parseSize(_ text: String, bareUnit: Int = 1) -> Int? {
        let trimmed = text.trimmingWhitespace
        guard let last = trimmed.last else { return nil }
        let multiplier: Int
        var digits = Substring(trimmed)
        switch last {
        case "b", "B": multiplier = 1
        case "k", "K": multiplier = 1 << 10
        case "m", "M": multiplier = 1 << 20
        case "g", "G": multiplier = 1 << 30
        case "t", "T": multiplier = 1 << 40
        case "0"..."9": multiplier = bareUnit
        default: return nil
        }
        if !("0"..."9").contains(last) { digits = digits.dropLast() }
        guard let value = decimal(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// Applies one Dovecot quota rule for all mailboxes (`*:storage=2G`, `*:bytes=1048576`, `*:messages=1000`,
    /// `*:ignore` or `*:none` for no limit). `storage=` without a suffix is in kilobytes, as in Dovecot.
    /// Returns false when the rule is not of that form (rules for one mailbox, relative `+`/`%` values).
    public mutating func apply(dovecotRule rule: String) -> Bool {
        let text = rule.trimmingWhitespace
        guard text.hasPrefix("*:") else { return false }
        let settings = text.dropFirst(2)
        if settings == "ignore" || settings == "none" || settings == "noenforcing" {
            self = .unlimited
            return true
        }
        for setting in settings.split(separator: ":") {
            let pair = setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { return false }
            let value = String(pair[1])
            switch pair[0] {
            case "storage":
                guard let bytes = Self.parseSize(value, bareUnit: 1024) else { return false }
                storageBytes = bytes > 0 ? bytes : nil
            case "bytes":
                guard let bytes = Self.parseSize(value) else { return false }
                storageBytes = bytes > 0 ? bytes : nil
            case "messages":
                guard let count = Self.decimal(Substring(value.trimmingWhitespace)) else { return false }
                messageCount = count > 0 ? count : nil
            default:
                return false
            }
        }
        return true
    }

    public var description: String {
        var parts: [String] = []
        if let storageBytes { parts.append("\(storageBytes) bytes") }
        if let messageCount { parts.append("\(messageCount) messages") }
        return parts.isEmpty ? "unlimited" : parts.joined(separator: ", ")
    }

    /// A non-negative decimal number of at most 18 digits; nil otherwise.
    static func decimal(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18,
            text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int(text)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    fileprivate var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
