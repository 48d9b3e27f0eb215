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

    /// Checks bytes, not Swift `Character`s: the file system splits on the byte `/` and sees a leading
    /// byte `.`, while a `Character` may glue a combining mark onto either and hide it (found by fuzzing).
    static func isSafeComponent(_ text: String) -> Bool {
        // ASCII (nearly every address) is decided on the bytes in place: the same rules, no copies.
        let ascii: Bool?? = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool? in
            guard let first = bytes.first, first != UInt8(ascii: ".") else { return false }
            var previous: UInt8 = 0
            for byte in bytes {
                if byte >= 0x80 { return nil }  // beyond ASCII: the scalar rules below
                if byte < 0x20 || byte == 0x7f || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") { return false }
                if byte == UInt8(ascii: ".") && previous == UInt8(ascii: ".") { return false }
                previous = byte
            }
            return true
        }
        if let decided = ascii ?? nil { return decided }
        return isSafeComponentByScalars(text)
    }

    /// ``isSafeComponent(_:)`` for any text (the ASCII shortcut there gives the same answers; tests compare).
    static func isSafeComponentByScalars(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first != UInt8(ascii: ".") else { return false }
        if containsDotDot(bytes) { return false }
        return !text.unicodeScalars.contains(where: isForbidden)
    }

    /// C0 controls (NUL, CR, LF, TAB...), DEL and C1 controls never belong in a mailbox name; `/` and `\`
    /// separate paths; Unicode line and paragraph separators and the BOM are invisible traps in names and logs.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v) || scalar == "/" || scalar == "\\"
            || v == 0x2028 || v == 0x2029 || v == 0xfeff
    }

    /// Template characters refused: the same as in names, except `/`, which separates its levels.
    static func isForbiddenInTemplate(_ scalar: Unicode.Scalar) -> Bool {
        scalar != "/" && isForbidden(scalar)
    }

    static func containsDotDot(_ bytes: [UInt8]) -> Bool {
        zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }
    }

    /// Whether a path component is `.` or `..`.
    static func isDotComponent(_ component: some Collection<UInt8>) -> Bool {
        (1...2).contains(component.count) && component.allSatisfy { $0 == UInt8(ascii: ".") }
    }

    /// True when `path`, read component by component without touching the file system, names `root` itself
    /// or something below it, with no `..` or `.` component anywhere. Both must be absolute.
    public static func isLexicallyInside(_ path: String, root: String) -> Bool {
        guard path.utf8.first == UInt8(ascii: "/"), root.utf8.first == UInt8(ascii: "/") else { return false }
        // The same test on the bytes in place (every delivery runs it for every recipient).
        var path = path, root = root
        return path.withUTF8 { pathBytes in root.withUTF8 { rootBytes in isLexicallyInside(pathBytes, root: rootBytes) } }
    }

    /// ``isLexicallyInside(_:root:)`` on UTF-8 bytes: no `.` or `..` component in either, more components in
    /// `path`, and `root`'s components its first ones.
    private static func isLexicallyInside(_ path: UnsafeBufferPointer<UInt8>, root: UnsafeBufferPointer<UInt8>) -> Bool {
        var pathComponents = ByteComponents(bytes: path), rootComponents = ByteComponents(bytes: root)
        var isPrefix = true
        var rootCount = 0, pathCount = 0
        while let rootComponent = rootComponents.next() {
            if isDotComponent(rootComponent) { return false }
            rootCount += 1
            guard let pathComponent = pathComponents.next() else {
                isPrefix = false
                continue
            }
            pathCount += 1
            if isDotComponent(pathComponent) { return false }
            if !pathComponent.elementsEqual(rootComponent) { isPrefix = false }
        }
        while let pathComponent = pathComponents.next() {
            if isDotComponent(pathComponent) { return false }
            pathCount += 1
        }
        return isPrefix && pathCount > rootCount
    }

    /// The non-empty `/`-separated components of a byte buffer, in order.
    private struct ByteComponents {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func next() -> Slice<UnsafeBufferPointer<UInt8>>? {
            while index < bytes.count && bytes[index] == UInt8(ascii: "/") { index += 1 }
            guard index < bytes.count else { return nil }
            let start = index
            while index < bytes.count && bytes[index] != UInt8(ascii: "/") { index += 1 }
            return bytes[start..<index]
        }
    }
}
