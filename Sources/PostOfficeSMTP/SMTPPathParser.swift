// SMTPPathParser: reads `<...>` paths of MAIL and RCPT into MailAddress, following RFC 5321 §4.1.2
// with the RFC 6531 UTF-8 additions. Works on bytes the command parser already checked for control characters.

import PostOfficeCore

/// Parses a reverse-path or forward-path
/// ([RFC 5321 §4.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2)).
///
/// Accepted: `<>` (reverse-path only), `<local@domain>` with a dot-string or quoted-string local part,
/// a domain or an address literal (`[192.0.2.1]`, `[IPv6:...]`, `[tag:content]`), source routes
/// `<@a,@b:local@domain>` (the route is ignored, §C), `<postmaster>` (forward-path only, given the server's
/// hostname as domain). Quoted local parts are returned unquoted. UTF-8 is accepted in local parts and
/// domains; whether it is allowed is decided by the caller (``containsNonASCII``).
struct SMTPPathParser {
    enum Kind { case reversePath, forwardPath }

    /// The domain given to `<postmaster>` (RFC 5321 §4.5.1), normally the server's hostname.
    var postmasterDomain: String

    /// A parsed path: the address (nil for `<>`) and the index just after `>`.
    struct Parsed: Hashable {
        var address: MailAddress?
        var end: Int
    }

    /// Parses the path that starts at `start` in `text`; nil when it is not a valid path.
    func parse(_ text: [UInt8], from start: Int, kind: Kind) -> Parsed? {
        var cursor = Cursor(bytes: text, index: start)
        guard cursor.take(UInt8(ascii: "<")) else { return nil }
        if cursor.take(UInt8(ascii: ">")) {
            return kind == .reversePath ? Parsed(address: nil, end: cursor.index) : nil
        }
        var hasRoute = false
        if cursor.peek == UInt8(ascii: "@") {
            // A-d-l = At-domain *( "," At-domain ) ":"; obsolete, accepted and ignored (RFC 5321 Appendix C).
            repeat {
                guard cursor.take(UInt8(ascii: "@")), Self.parseDomain(&cursor) != nil else { return nil }
            } while cursor.take(UInt8(ascii: ","))
            guard cursor.take(UInt8(ascii: ":")) else { return nil }
            hasRoute = true
        }
        guard let local = Self.parseLocalPart(&cursor) else { return nil }
        if kind == .forwardPath, !hasRoute, !local.wasQuoted, cursor.peek == UInt8(ascii: ">"),
            local.text.lowercased() == "postmaster"
        {
            _ = cursor.take(UInt8(ascii: ">"))
            return Parsed(address: MailAddress(localPart: local.text, domain: postmasterDomain), end: cursor.index)
        }
        guard cursor.take(UInt8(ascii: "@")) else { return nil }
        let domain: String?
        if cursor.peek == UInt8(ascii: "[") {
            domain = Self.parseAddressLiteral(&cursor)
        } else {
            domain = Self.parseDomain(&cursor)
        }
        guard let domain, cursor.take(UInt8(ascii: ">")) else { return nil }
        return Parsed(address: MailAddress(localPart: local.text, domain: domain), end: cursor.index)
    }

    /// True when the address needs SMTPUTF8 (RFC 6531 §3.3).
    static func containsNonASCII(_ address: MailAddress) -> Bool {
        address.localPart.utf8.contains { $0 >= 0x80 } || address.domain.utf8.contains { $0 >= 0x80 }
    }

    // MARK: Grammar pieces

    struct Cursor {
        var bytes: [UInt8]
        var index: Int
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }
    }

    /// Local-part = Dot-string / Quoted-string.
    static func parseLocalPart(_ cursor: inout Cursor) -> (text: String, wasQuoted: Bool)? {
        if cursor.take(UInt8(ascii: "\"")) {
            var out: [UInt8] = []
            while let c = cursor.peek {
                cursor.index += 1
                switch c {
                case UInt8(ascii: "\""):
                    return (String(decoding: out, as: UTF8.self), true)
                case UInt8(ascii: "\\"):
                    // quoted-pairSMTP = %d92 %d32-126
                    guard let next = cursor.peek, (32...126).contains(next) else { return nil }
                    cursor.index += 1
                    out.append(next)
                case 32...126, 0x80...0xFF:
                    out.append(c)  // qtextSMTP (ASCII 32-126 but " and \, handled above) / UTF8-non-ascii
                default:
                    return nil
                }
            }
            return nil
        }
        let start = cursor.index
        var atomLength = 0
        while let c = cursor.peek {
            if MailAddress.isAtext(c) || c >= 0x80 {
                atomLength += 1
            } else if c == UInt8(ascii: ".") {
                guard atomLength > 0 else { return nil }  // no leading or doubled dots
                atomLength = 0
            } else {
                break
            }
            cursor.index += 1
        }
        guard atomLength > 0 else { return nil }  // empty, or a trailing dot
        return (String(decoding: cursor.bytes[start..<cursor.index], as: UTF8.self), false)
    }

    /// Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] (or a U-label).
    static func parseDomain(_ cursor: inout Cursor) -> String? {
        let start = cursor.index
        while true {
            var label: [UInt8] = []
            while let c = cursor.peek, isLetterDigit(c) || c == UInt8(ascii: "-") || c >= 0x80 {
                label.append(c)
                cursor.index += 1
            }
            guard let first = label.first, let last = label.last, first != UInt8(ascii: "-"),
                last != UInt8(ascii: "-")
            else { return nil }
            // A dot followed by a label continues the domain; anything else ends it.
            guard cursor.peek == UInt8(ascii: "."), cursor.index + 1 < cursor.bytes.count,
                isLetterDigit(cursor.bytes[cursor.index + 1]) || cursor.bytes[cursor.index + 1] >= 0x80
            else { break }
            cursor.index += 1
        }
        return String(decoding: cursor.bytes[start..<cursor.index], as: UTF8.self)
    }

    /// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal / General-address-literal ) "]".
    static func parseAddressLiteral(_ cursor: inout Cursor) -> String? {
        let start = cursor.index
        guard cursor.take(UInt8(ascii: "[")) else { return nil }
        let contentStart = cursor.index
        while let c = cursor.peek, c != UInt8(ascii: "]") {
            // dcontent = %d33-90 / %d94-126
            guard (33...90).contains(c) || (94...126).contains(c) else { return nil }
            cursor.index += 1
        }
        guard cursor.take(UInt8(ascii: "]")) else { return nil }
        let content = Array(cursor.bytes[contentStart..<(cursor.index - 1)])
        guard isIPv4(content) || isTaggedLiteral(content) else { return nil }
        return String(decoding: cursor.bytes[start..<cursor.index], as: UTF8.self)
    }

    static func isLetterDigit(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }

    /// IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT up to 255.
    static func isIPv4(_ content: [UInt8]) -> Bool {
        let parts = content.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                guard (1...3).contains(part.count), part.allSatisfy({ (48...57).contains($0) }) else { return false }
                return Int(String(decoding: part, as: UTF8.self)).map { $0 <= 255 } ?? false
            }
    }

    /// IPv6-address-literal = "IPv6:" IPv6-addr, or General-address-literal = Standardized-tag ":" 1*dcontent.
    static func isTaggedLiteral(_ content: [UInt8]) -> Bool {
        guard let colon = content.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon + 1 < content.count else {
            return false
        }
        let tag = content[..<colon]
        let value = content[(colon + 1)...]
        // Standardized-tag = Ldh-str: letters, digits, hyphens, not ending in a hyphen.
        guard tag.allSatisfy({ isLetterDigit($0) || $0 == UInt8(ascii: "-") }), tag.last != UInt8(ascii: "-") else {
            return false
        }
        if String(decoding: tag, as: UTF8.self).lowercased() == "ipv6" {
            return isIPv6(Array(value))
        }
        return true
    }

    /// IPv6-addr per RFC 5321 §4.1.3: full, compressed (`::`), optionally ending in an IPv4 address.
    static func isIPv6(_ text: [UInt8]) -> Bool {
        var groups = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map(Array.init)
        var maximumGroups = 8
        if let last = groups.last, last.contains(UInt8(ascii: ".")) {
            guard isIPv4(last) else { return false }
            groups.removeLast()
            maximumGroups = 6
        }
        let colon = UInt8(ascii: ":")
        // A colon may only begin or end the address as part of "::".
        if text.first == colon && (text.count < 2 || text[1] != colon) { return false }
        if text.last == colon && (text.count < 2 || text[text.count - 2] != colon) { return false }
        let compressions = text.indices.dropLast().filter {
            text[$0] == UInt8(ascii: ":") && text[$0 + 1] == UInt8(ascii: ":")
        }.count
        guard compressions <= 1 else { return false }
        let hexGroups = groups.filter { !$0.isEmpty }
        guard
            hexGroups.allSatisfy({ group in
                (1...4).contains(group.count) && group.allSatisfy { isLetterDigit($0) && isHexDigit($0) }
            })
        else { return false }
        if compressions == 1 {
            return hexGroups.count <= maximumGroups - 1
        }
        // Without "::" no group may be empty and there must be exactly the right number.
        return groups.count == maximumGroups && hexGroups.count == maximumGroups
    }

    static func isHexDigit(_ c: UInt8) -> Bool {
        (48...57).contains(c) || (65...70).contains(c) || (97...102).contains(c)
    }
}
