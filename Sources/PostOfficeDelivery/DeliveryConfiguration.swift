// DeliveryConfiguration: the settings of the local delivery agent — where mail lives, how Maildirs are laid
// out, how copies for several recipients are made, and the loop and size limits.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Settings of a ``LocalDeliveryAgent``.
public struct DeliveryConfiguration: Sendable {
    /// How the copies for the second and later mailboxes of a transaction are made.
    public enum CopyMethod: Sendable, Hashable {
        /// Each copy gets its own trace headers (`Delivered-To:`, `for <rcpt>`); the body is copied in the
        /// kernel with `copy_file_range` (falling back to read/write). Default.
        case copyBody
        /// Trace headers are the same for every recipient (no `Delivered-To:`, no `for` clause) and copies are
        /// hard links of one file, falling back to copying across file systems. Saves space and I/O; loses the
        /// per-recipient `Delivered-To:` that later hops use for loop detection.
        case hardLink
    }

    /// Absolute directory under which every Maildir lives (a relative one is taken from the working directory).
    public var mailRoot: String
    /// Our host name, for `Received:` and Maildir file names.
    public var hostname: String
    public var layout: MailboxLayout
    /// Deliver `user+tag` into the `.tag` folder when it exists.
    public var deliversSubaddressToFolders: Bool
    public var copyMethod: CopyMethod
    /// More `Received:` fields than this is a loop (5.4.6). Postfix uses 50; the RFC suggests at least 100
    /// hops for relays, but a final delivery seeing 25 is looping.
    public var maximumReceivedCount: Int
    /// Header bytes inspected for loop detection.
    public var maximumInspectedHeaderBytes: Int
    /// Largest message accepted, CRLF size as received; nil for no limit here (SMTP enforces its own).
    public var maximumMessageSize: Int?
    /// Deepest alias nesting followed.
    public var maximumAliasDepth: Int
    /// Who receives mail for `postmaster` (RFC 5321 §4.5.1) — the bare `<postmaster>` and `postmaster@` every
    /// local domain — when no user or alias of that name exists. It is resolved like any recipient. When nil,
    /// the `postmaster` user or alias of the first local domain (in byte order) that has one receives it.
    /// Configuration: `postmaster_address`.
    public var postmasterAddress: MailAddress?
    /// Every user's Maildir++ quota unless the directory names one for the user (``DeliveryDirectory/quotas``).
    /// Configuration: `quota` and `quota_messages`. Unlimited by default.
    public var quota: MailboxQuota
    /// A delivery over quota fails temporarily (4.2.2: the sender retries) instead of permanently (5.2.2).
    /// Configuration: `quota_full_tempfail` (as in Dovecot).
    public var quotaFullIsTemporary: Bool
    /// When a delivery takes a user's usage to this percentage of a limit (or beyond), a warning message is put
    /// into the user's INBOX, once until a delivery finds the usage below the line again (a marker file in
    /// the Maildir, ``Maildir/claimQuotaWarning()``). nil: no warnings. Configuration: `quota_warning`.
    public var quotaWarningPercent: Int?
    /// Most Maildirs kept open between deliveries (``MaildirHandleCache``; two descriptors each), so a delivery
    /// to a recently used mailbox skips the walk from the mail root. 0 turns the cache off. A server with a
    /// low open-files limit sets 0 (see `DescriptorBudget`).
    public var openMaildirLimit: Int = Self.defaultOpenMaildirLimit

    /// 32: every mailbox of a small domain, for 64 descriptors.
    public static let defaultOpenMaildirLimit = 32

    /// Tests only (no configuration key): the most distinct Maildirs whose copies are all held open as unnamed
    /// files until they are linked into `new/` (``DeliveryTransaction/defaultUnnamedCopyLimit``).
    var unnamedCopyLimit = DeliveryTransaction.defaultUnnamedCopyLimit
    /// Tests only: false behaves like a file system without `O_TMPFILE` (every draft is a named file in `tmp/`).
    var allowsUnnamedFiles = true

    public init(
        mailRoot: String,
        hostname: String,
        layout: MailboxLayout = .domainThenLocalPart,
        deliversSubaddressToFolders: Bool = false,
        copyMethod: CopyMethod = .copyBody,
        maximumReceivedCount: Int = 25,
        maximumInspectedHeaderBytes: Int = 256 * 1024,
        maximumMessageSize: Int? = nil,
        maximumAliasDepth: Int = 10,
        postmasterAddress: MailAddress? = nil,
        quota: MailboxQuota = .unlimited,
        quotaFullIsTemporary: Bool = false,
        quotaWarningPercent: Int? = nil
    ) {
        self.mailRoot = Self.absolute(mailRoot)
        self.hostname = hostname
        self.layout = layout
        self.deliversSubaddressToFolders = deliversSubaddressToFolders
        self.copyMethod = copyMethod
        self.maximumReceivedCount = maximumReceivedCount
        self.maximumInspectedHeaderBytes = maximumInspectedHeaderBytes
        self.maximumMessageSize = maximumMessageSize
        self.maximumAliasDepth = maximumAliasDepth
        self.postmasterAddress = postmasterAddress
        self.quota = quota
        self.quotaFullIsTemporary = quotaFullIsTemporary
        self.quotaWarningPercent = quotaWarningPercent
    }

    /// Makes `path` absolute and lexically clean (no `.` components, no doubled slashes), so the
    /// lexical inside-the-root check compares like with like: `./data/mail` → `/cwd/data/mail`.
    static func absolute(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            let cwd = getcwd(&buffer, buffer.count) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
            full = cwd + "/" + path
        }
        var components: [Substring] = []
        for component in full.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}
