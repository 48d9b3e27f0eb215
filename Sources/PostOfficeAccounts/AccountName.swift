// AccountName: validation and normalization of the names the accounts files hold: user addresses,
// bare local parts, domains and alias keys, put in canonical form (MailAddress: ASCII-only case folding).

import PostOfficeCore

/// Checks and normalizes account names.
///
/// RFC 5321 §2.4 (https://www.rfc-editor.org/rfc/rfc5321#section-2.4) lets a server treat local parts
/// case-sensitively, but users expect `Alice@` and `alice@` to be one mailbox and Dovecot setups
/// usually lowercase logins (`auth_username_format = %Lu`). PostOffice stores and looks up every name in
/// the canonical form of ``MailAddress`` (``MailAddress/canonicalLocalPart(_:)``,
/// ``MailAddress/canonicalDomain(_:)``): ASCII letters folded to lower case, every other byte kept, so
/// `Kate` is `kate` but `\u{212A}ate` (KELVIN SIGN) is another name. Compare with
/// ``MailAddress/lookup(_:in:)``, not `==`, which treats canonically equivalent spellings as equal.
///
/// Names are deliberately narrower than RFC 5321 allows: no quoted local parts, no whitespace or
/// control characters, and none of `:` `,` `#` `"` `\` `/` `|` (they are separators in the files, or would
/// be dangerous where a name becomes part of a path).
public enum AccountName {
    /// Normalizes a full user address, `local@domain`.
    public static func normalizedAddress(_ text: String) throws(AccountsError) -> String {
        guard let at = text.lastIndex(of: "@") else {
            throw .invalidName(text, reason: "missing @domain")
        }
        let local = try normalizedLocalPart(String(text[..<at]), in: text)
        let domain = try normalizedDomain(String(text[text.index(after: at)...]), in: text)
        return local + "@" + domain
    }

    /// Normalizes a bare local part (`alice`), as used for logins and aliases(5)-style keys.
    public static func normalizedLocalPart(_ text: String) throws(AccountsError) -> String {
        try normalizedLocalPart(text, in: text)
    }

    /// Normalizes a domain name (`Example.TEST` → `example.test`).
    public static func normalizedDomain(_ text: String) throws(AccountsError) -> String {
        try normalizedDomain(text, in: text)
    }

    private static func normalizedLocalPart(_ local: String, in whole: String) throws(AccountsError) -> String {
        guard !local.isEmpty else { throw .invalidName(whole, reason: "empty local part") }
        try checkCharacters(local, in: whole)
        guard !local.contains("@") else { throw .invalidName(whole, reason: "more than one @") }
        guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else {
            throw .invalidName(whole, reason: "misplaced dot in local part")
        }
        guard local.utf8.count <= 64 else { throw .invalidName(whole, reason: "local part longer than 64 octets") }
        return MailAddress.canonicalLocalPart(local)
    }

    private static func normalizedDomain(_ domain: String, in whole: String) throws(AccountsError) -> String {
        guard !domain.isEmpty else { throw .invalidName(whole, reason: "empty domain") }
        try checkCharacters(domain, in: whole)
        guard domain.utf8.count <= 255 else { throw .invalidName(whole, reason: "domain longer than 255 octets") }
        for label in domain.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw .invalidName(whole, reason: "empty domain label") }
            guard !label.hasPrefix("-"), !label.hasSuffix("-") else {
                throw .invalidName(whole, reason: "domain label starts or ends with -")
            }
            let valid = label.unicodeScalars.allSatisfy { scalar in
                scalar.value >= 0x80 || scalar.isASCIILetter || ("0"..."9").contains(scalar) || scalar == "-"
            }
            guard valid else { throw .invalidName(whole, reason: "domain may hold only letters, digits, - and .") }
        }
        return MailAddress.canonicalDomain(domain)
    }

    private static func checkCharacters(_ part: String, in whole: String) throws(AccountsError) {
        for scalar in part.unicodeScalars {
            if scalar.value <= 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                throw .invalidName(whole, reason: "contains whitespace or a control character")
            }
            if ":,#\"\\/|;<>()[]".unicodeScalars.contains(scalar) {
                throw .invalidName(whole, reason: "contains \"\(scalar)\"")
            }
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self)
    }
}
