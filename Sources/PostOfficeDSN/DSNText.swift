// DSNText: the text-shaping rules of the report — header folding, paragraph wrapping at 78 columns, and
// making foreign text (remote replies, ENVID) safe: printable US-ASCII, no line breaks to inject fields.

/// Folding, wrapping and sanitizing for report text
/// ([RFC 5322 §2.1.1, §2.2.3](https://www.rfc-editor.org/rfc/rfc5322#section-2.2.3)).
enum DSNText {
    /// Lines should stay within 78 characters; none may exceed 998 (RFC 5322 §2.1.1).
    static let width = 78
    static let hardLimit = 998

    /// Printable US-ASCII only: CR, LF and tabs become spaces, other bytes `?`. Used on everything that
    /// came from outside (a remote server's reply, ENVID, ORCPT) before it goes into a field.
    static func sanitized(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x20...0x7E: out.unicodeScalars.append(scalar)
            case 0x09, 0x0A, 0x0D: out.unicodeScalars.append(" ")
            default: out.unicodeScalars.append("?")
            }
        }
        return out
    }

    /// True when every scalar is US-ASCII.
    static func isASCII(_ text: String) -> Bool { text.utf8.allSatisfy { $0 < 0x80 } }

    /// `Name: value` folded at spaces to ``width`` columns, each line ending in CRLF. Folding puts CRLF
    /// before an existing space, so unfolding (deleting CRLF) gives back the value exactly. A run without
    /// spaces longer than the hard limit is broken with an inserted space: the only change ever made.
    /// `value` must already be free of CR and LF (``sanitized(_:)``).
    static func field(_ name: String, _ value: String) -> String {
        var out = ""
        var line = name + ":"
        for (i, token) in value.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            // Never fold before an empty token: that would leave a line of white space only.
            if i > 0, !token.isEmpty, line.utf8.count + 1 + token.utf8.count > width {
                out += line + "\r\n"
                line = ""
            }
            line += " " + token
            while line.utf8.count > hardLimit {
                out += line.prefix(hardLimit) + "\r\n"
                line = " " + line.dropFirst(hardLimit)
            }
        }
        return out + line + "\r\n"
    }

    /// Wraps a paragraph at spaces to ``width`` columns; continuation lines start with `indent`.
    /// A word longer than a line stands alone; a line is cut only at the hard limit.
    static func wrap(_ text: String, indent: String = "") -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.isEmpty {
                line = (lines.isEmpty ? "" : indent) + word
            } else if line.count + 1 + word.count > width {
                lines.append(line)
                line = indent + word
            } else {
                line += " " + word
            }
        }
        lines.append(line)
        return lines.flatMap(cutAtHardLimit)
    }

    /// Splits a line into pieces of at most ``hardLimit`` UTF-8 bytes, at scalar boundaries.
    static func cutAtHardLimit(_ line: String) -> [String] {
        guard line.utf8.count > hardLimit else { return [line] }
        var pieces: [String] = []
        var piece = String.UnicodeScalarView()
        var bytes = 0
        for scalar in line.unicodeScalars {
            let size = UTF8.width(scalar)
            if bytes + size > hardLimit {
                pieces.append(String(piece))
                piece = String.UnicodeScalarView()
                bytes = 0
            }
            piece.append(scalar)
            bytes += size
        }
        pieces.append(String(piece))
        return pieces
    }
}
