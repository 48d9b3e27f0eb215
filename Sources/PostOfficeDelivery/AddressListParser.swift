// AddressListParser: the addresses in an RFC 5322 address-list (To:, Cc:, Bcc: values, sendmail arguments),
// for `sendmail -t`. Display names, comments and group names are dropped; only the addr-specs matter.

import PostOfficeCore

/// Extracts the mailboxes of an [RFC 5322 §3.4](https://www.rfc-editor.org/rfc/rfc5322#section-3.4)
/// `address-list`: `a@x, "Smith, J" <j@x>, b@x (Bob), Team: c@x, d@x;, undisclosed-recipients:;`.
///
/// Lenient where sendmail and Postfix are: comments may nest, the obsolete route `<@relay:a@x>` is dropped,
/// whitespace around `@` and `.` is ignored, and a bare name without `@` (`root`) is qualified with
/// `defaultDomain`. An entry that still is not `local@domain` (`a@`, `@x`, `<a@x`) is returned in `invalid`.
public enum AddressListParser {
    /// The result of one parse.
    public struct Parsed: Hashable, Sendable {
        /// The mailboxes, in order, duplicates kept.
        public var addresses: [MailAddress] = []
        /// The entries that are not addresses, as written (trimmed).
        public var invalid: [String] = []
    }

    /// Parses `text` (an unfolded or folded header value, or one command-line argument).
    public static func parse(_ text: String, defaultDomain: String) -> Parsed {
        var parsed = Parsed()
        var scanner = Scanner()
        for scalar in text.unicodeScalars { scanner.consume(scalar, into: &parsed, defaultDomain: defaultDomain) }
        scanner.finishEntry(into: &parsed, defaultDomain: defaultDomain)
        if scanner.isUnbalanced, parsed.invalid.isEmpty {
            parsed.invalid.append(text.trimmingWhitespace)
        }
        return parsed
    }

    /// Parses one `local@domain` (or `<local@domain>`, or a bare name), as `-f` takes it. Nil unless it
    /// is exactly one address.
    public static func single(_ text: String, defaultDomain: String) -> MailAddress? {
        let parsed = parse(text, defaultDomain: defaultDomain)
        guard parsed.invalid.isEmpty, parsed.addresses.count == 1 else { return nil }
        return parsed.addresses[0]
    }

    /// The character-level state: where we are inside quotes, comments, angle brackets and literals.
    private struct Scanner {
        /// The entry's text outside angle brackets, without comments and unquoted whitespace.
        var plain = String.UnicodeScalarView()
        /// The text inside `<...>`, same rules; nil when the entry has none.
        var angle: String.UnicodeScalarView?
        var raw = String.UnicodeScalarView()
        var inQuote = false
        var inLiteral = false
        var inAngle = false
        var commentDepth = 0
        var escaped = false
        var isUnbalanced: Bool { inQuote || inLiteral || inAngle || commentDepth > 0 }

        mutating func consume(_ c: Unicode.Scalar, into parsed: inout Parsed, defaultDomain: String) {
            if escaped {
                escaped = false
                if commentDepth == 0 { append("\\"); append(c) }
                raw.append(c)
                return
            }
            if commentDepth > 0 {
                switch c {
                case "\\": escaped = true
                case "(": commentDepth += 1
                case ")": commentDepth -= 1
                default: break
                }
                raw.append(c)
                return
            }
            if inQuote {
                if c == "\\" { escaped = true } else { append(c) }
                if c == "\"" { inQuote = false }
                raw.append(c)
                return
            }
            if inLiteral {
                if !Self.isWhitespace(c) { append(c) }
                if c == "]" { inLiteral = false }
                raw.append(c)
                return
            }
            switch c {
            case "\"":
                inQuote = true
                append(c)
            case "\\":
                escaped = true
            case "(":
                commentDepth = 1
            case "[":
                inLiteral = true
                append(c)
            case "<" where !inAngle:
                inAngle = true
                angle = String.UnicodeScalarView()
            case ">" where inAngle:
                inAngle = false
            case "," where !inAngle:
                finishEntry(into: &parsed, defaultDomain: defaultDomain)
                return
            case ":" where !inAngle:
                // A group's display name ends here; its members follow.
                plain = String.UnicodeScalarView()
                raw = String.UnicodeScalarView()
                return
            case ";" where !inAngle:
                finishEntry(into: &parsed, defaultDomain: defaultDomain)
                return
            default:
                if !Self.isWhitespace(c) { append(c) }
            }
            raw.append(c)
        }

        private mutating func append(_ c: Unicode.Scalar) {
            if inAngle { angle?.append(c) } else { plain.append(c) }
        }

        mutating func finishEntry(into parsed: inout Parsed, defaultDomain: String) {
            defer {
                plain = String.UnicodeScalarView()
                angle = nil
                raw = String.UnicodeScalarView()
            }
            guard !isUnbalanced else { return }
            var spec: String
            if let angle {
                spec = String(angle)
                // The obsolete source route `@a,@b:local@domain` (RFC 5322 §4.4) is dropped.
                if spec.hasPrefix("@"), let colon = spec.lastIndex(of: ":") { spec = String(spec[spec.index(after: colon)...]) }
                if spec.isEmpty { return }  // `<>`: no mailbox
            } else {
                spec = String(plain)
                if spec.isEmpty { return }  // an empty entry, as in `a@x,,b@x` or an empty group
            }
            if let address = AddressListParser.address(spec, defaultDomain: defaultDomain) {
                parsed.addresses.append(address)
            } else {
                parsed.invalid.append(String(raw).trimmingWhitespace)
            }
        }

        static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }
    }

    /// `local@domain` with the local part unquoted, or a bare local part qualified with `defaultDomain`.
    private static func address(_ spec: String, defaultDomain: String) -> MailAddress? {
        // The `@` that splits is the last one outside a quoted string.
        var inQuote = false
        var escaped = false
        var split: String.Index?
        var index = spec.startIndex
        while index < spec.endIndex {
            let c = spec[index]
            if escaped {
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                inQuote.toggle()
            } else if c == "@" && !inQuote {
                split = index
            }
            index = spec.index(after: index)
        }
        let localText = split.map { String(spec[..<$0]) } ?? spec
        let domain = split.map { String(spec[spec.index(after: $0)...]) } ?? defaultDomain
        guard let localPart = unquoted(localText), !localPart.isEmpty, !domain.isEmpty, !domain.contains("@"),
            !domain.contains("\""), !localPart.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return nil }
        return MailAddress(localPart: localPart, domain: domain)
    }

    /// Removes quotes and backslash escapes: `"a b".c` → `a b.c`. Nil for an unterminated quote.
    private static func unquoted(_ text: String) -> String? {
        guard text.contains("\"") || text.contains("\\") else { return text }
        var out = String.UnicodeScalarView()
        var inQuote = false
        var escaped = false
        for c in text.unicodeScalars {
            if escaped {
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                inQuote.toggle()
            } else {
                out.append(c)
            }
        }
        return inQuote || escaped ? nil : String(out)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs, CRs and LFs.
    fileprivate var trimmingWhitespace: String {
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
