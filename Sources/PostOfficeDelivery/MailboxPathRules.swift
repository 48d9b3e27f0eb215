// MailboxPathRules: which local parts and domains may become part of a Maildir path, and the final
// lexical check that a resolved path stays under the mail root. Every path delivery writes passes here.

/// The rules that keep an address from naming a path outside the mail root.
///
/// A local part or domain is refused when it is empty, starts with `.`, contains `..`, `/`, `\`, NUL or
/// any other control character (C0, DEL, C1), or is longer than RFC 5321 allows
/// ([§4.5.3.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.1): 64 octets for a local part,
/// [§4.5.3.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.2): 255 for a domain).
/// Even after these checks the expanded path is checked again, lexically, by ``isLexicallyInside(_:root:)``.
public enum MailboxPathRules {
    /// Longest local part accepted, in UTF-8 octets.
    public static let maximumLocalPartLength = 64
    /// Longest domain accepted, in UTF-8 octets.
    public static let maximumDomainLength = 255

    /// True when `localPart` may be used as a path component.
    public static func isSafeLocalPart(_ localPart: String) -> Bool {
        localPart.utf8.count <= maximumLocalPartLength && isSafeComponent(localPart)
    }

    /// True when `domain` may be used as a path component.
    public static func isSafeDomain(_ domain: String) -> Bool {
        domain.utf8.count <= maximumDomainLength && isSafeComponent(domain)
    }

    static func isSafeComponent(_ text: String) -> Bool {
        guard !text.isEmpty, !text.hasPrefix("."), !text.contains("..") else { return false }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            // C0 controls (NUL, CR, LF, TAB...), DEL and C1 controls never belong in a mailbox name.
            if v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v) { return false }
            if scalar == "/" || scalar == "\\" { return false }
            // Unicode line and paragraph separators, and the BOM, are invisible traps in file names and logs.
            if v == 0x2028 || v == 0x2029 || v == 0xfeff { return false }
        }
        return true
    }

    /// True when `path`, read component by component without touching the file system, names `root` itself
    /// or something below it, with no `..` or `.` component anywhere. Both must be absolute.
    public static func isLexicallyInside(_ path: String, root: String) -> Bool {
        guard path.hasPrefix("/"), root.hasPrefix("/") else { return false }
        let pathComponents = path.split(separator: "/", omittingEmptySubsequences: true)
        let rootComponents = root.split(separator: "/", omittingEmptySubsequences: true)
        if pathComponents.contains(where: { $0 == ".." || $0 == "." }) { return false }
        if rootComponents.contains(where: { $0 == ".." || $0 == "." }) { return false }
        guard pathComponents.count > rootComponents.count else { return false }
        return Array(pathComponents.prefix(rootComponents.count)) == rootComponents
    }
}
