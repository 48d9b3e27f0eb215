// MailAddress: an RFC 5321 mailbox (local-part@domain) as the envelope carries it.
// Protocol parsers (SMTP paths, POP3 login names) produce it; delivery resolves it to a Maildir.
// It also holds THE address comparison rule (canonical form): every user, alias, recipient and login
// lookup compares canonical forms byte for byte, and nothing else folds case.

/// An envelope mailbox address, `local-part@domain`
/// ([RFC 5321 §4.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2)).
///
/// The local part is kept exactly as sent (it is case-sensitive by the RFC); lookups compare ``canonical``.
///
/// **The comparison rule.** Two addresses are the same mailbox when their canonical forms are equal
/// byte for byte (``isCanonicallyEqual(_:_:)``). The canonical form folds ASCII `A`–`Z` to `a`–`z` in
/// the local part and in the domain, and leaves every other byte exactly as it is: no Unicode case
/// folding, no Unicode normalization (NFC/NFD spellings are different names), no IDNA (a non-ASCII
/// domain matches only its own bytes). So `Kate@Example.TEST` is `kate@example.test`, but
/// `\u{212A}ate` (KELVIN SIGN), `\u{017F}` (LONG S) for `s` and `\u{0130}` (I WITH DOT) for `i` are
/// other names, which cannot reach or log in as the ASCII user. Swift's `==`, `Set` and `Dictionary`
/// on `String` compare by canonical equivalence (U+212A equals `K` to them), so byte-exact lookups go
/// through ``lookup(_:in:)`` and ``contains(_:in:)``.
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
        guard let at = Self.lastAtSign(in: text) else { return nil }
        let local = String(text[..<at])
        let domain = String(text[text.index(after: at)...])
        guard !local.isEmpty, !domain.isEmpty else { return nil }
        self.init(localPart: local, domain: domain)
    }

    /// Where `text.lastIndex(of: "@")` is: found on the bytes when the text is ASCII (each byte a Character
    /// then, so the answer is the same), Character by Character otherwise, where an `@` followed by a
    /// combining mark is not an `@`. The Character walk backwards cost ~5k instructions per address.
    public static func lastAtSign(in text: String) -> String.Index? {
        let bytes = text.utf8
        if bytes.allSatisfy({ $0 < 0x80 }) { return bytes.lastIndex(of: UInt8(ascii: "@")) }
        return text.lastIndex(of: "@")
    }

    /// The domain with ASCII letters in lower case (``canonicalDomain(_:)``), for matching (RFC 5321 §2.4).
    public var normalizedDomain: String { Self.canonicalDomain(domain) }

    /// `local@domain` in canonical form: the key every lookup uses (see the type's comparison rule).
    public var canonical: String { Self.canonicalLocalPart(localPart) + "@" + Self.canonicalDomain(domain) }

    /// The canonical local part: ASCII `A`–`Z` folded to lower case, every other byte unchanged.
    public static func canonicalLocalPart(_ localPart: String) -> String { asciiLowercased(localPart) }

    /// The canonical domain: ASCII `A`–`Z` folded to lower case, every other byte unchanged (no IDNA).
    public static func canonicalDomain(_ domain: String) -> String { asciiLowercased(domain) }

    /// The canonical form of `local@domain` text (split at the last `@`); text without `@` is folded as
    /// a bare local part. Does no validation.
    public static func canonicalAddress(_ text: String) -> String {
        guard let at = lastAtSign(in: text) else { return canonicalLocalPart(text) }
        return canonicalLocalPart(String(text[..<at])) + "@" + canonicalDomain(String(text[text.index(after: at)...]))
    }

    /// True when `a` and `b` name the same address: equal canonical forms, compared as UTF-8 bytes.
    public static func isCanonicallyEqual(_ a: String, _ b: String) -> Bool {
        canonicalAddress(a).utf8.elementsEqual(canonicalAddress(b).utf8)
    }

    /// The value stored under exactly the bytes of `key` (already canonical). A `Dictionary` keyed by
    /// `String` finds a canonically equivalent key too (`\u{212A}` for `K`); that one is refused here.
    public static func lookup<Value>(_ key: String, in table: [String: Value]) -> Value? {
        guard let index = table.index(forKey: key), table[index].key.utf8.elementsEqual(key.utf8) else { return nil }
        return table[index].value
    }

    /// True when `set` holds exactly the bytes of `key` (already canonical); see ``lookup(_:in:)``.
    public static func contains(_ key: String, in set: Set<String>) -> Bool {
        guard let index = set.firstIndex(of: key) else { return false }
        return set[index].utf8.elementsEqual(key.utf8)
    }

    private static func asciiLowercased(_ text: String) -> String {
        guard text.utf8.contains(where: { (0x41...0x5A).contains($0) }) else { return text }
        return String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

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
