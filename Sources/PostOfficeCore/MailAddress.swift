// MailAddress: an RFC 5321 mailbox (local-part@domain) as the envelope carries it.
// Protocol parsers (SMTP paths, POP3 login names) produce it; delivery resolves it to a Maildir.

/// An envelope mailbox address, `local-part@domain`
/// ([RFC 5321 §4.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2)).
///
/// The local part is kept exactly as sent (it is case-sensitive by the RFC); the domain compares
/// case-insensitively, so ``normalizedDomain`` is what lookups use.
public struct MailAddress: Hashable, Sendable, CustomStringConvertible {
    /// The local part, unquoted (`"a b"@x` has local part `a b`).
    public var localPart: String
    /// The domain or address literal (`[192.0.2.1]`), as sent.
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    /// Splits `local@domain` at the last `@`. Does no RFC 5321 grammar check: use the SMTP
    /// path parser for wire input. Returns nil when either side is empty.
    public init?(_ text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let local = String(text[..<at])
        let domain = String(text[text.index(after: at)...])
        guard !local.isEmpty, !domain.isEmpty else { return nil }
        self.init(localPart: local, domain: domain)
    }

    /// The domain in lower case, for case-insensitive matching (RFC 5321 §2.4).
    public var normalizedDomain: String { domain.lowercased() }

    /// `local@domain`, quoting the local part when it is not a dot-string.
    public var description: String {
        Self.isDotString(localPart) ? "\(localPart)@\(domain)" : "\"\(Self.quote(localPart))\"@\(domain)"
    }

    /// Checked on UTF-8 bytes, not Characters: a combining mark after `.` would hide the dot from
    /// `hasPrefix`/`contains("..")` while the wire still carries it.
    static func isDotString(_ s: String) -> Bool {
        let dot = UInt8(ascii: ".")
        var previous: UInt8?
        for c in s.utf8 {
            // RFC 6531 UTF-8 local parts: bytes from 0x80 up pass as atext.
            guard c >= 0x80 || isAtext(c) || c == dot else { return false }
            if c == dot && (previous == nil || previous == dot) { return false }
            previous = c
        }
        return previous != nil && previous != dot
    }

    /// RFC 5322 atext: ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~".
    public static func isAtext(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(c)
        }
    }

    /// Escapes `"` and `\` byte by byte: as Characters, `\` followed by a combining mark is one grapheme
    /// that compares unequal to `\` and would go out unescaped.
    static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for c in s.utf8 {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
