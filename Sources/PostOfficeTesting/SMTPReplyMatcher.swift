// SMTPReplyMatcher: matches server reply lines against the `S:` patterns of a transcript, in order.
// Engine-independent like SMTPTranscript, so live tests can reuse it (pattern rules in Transcripts/README.md).

/// Matches server reply lines against `S:` patterns, in order.
///
/// Pattern rules: a three-character pattern (`250`, `5**`) matches one whole reply, multi-line or not, by its
/// code; `ddd-*` matches one or more continuation lines of that code; any other pattern matches exactly one
/// line, where `*` in the first three characters stands for any digit and a final `*` for any rest.
public struct SMTPReplyMatcher: Sendable {
    public private(set) var lines: [String] = []
    public private(set) var position = 0

    public init() {}

    /// Adds server output (whole CRLF-terminated lines).
    public mutating func append(_ bytes: [UInt8]) {
        var start = 0
        for index in bytes.indices where bytes[index] == 10 {
            var end = index
            if end > start && bytes[end - 1] == 13 { end -= 1 }
            lines.append(String(decoding: bytes[start..<end], as: UTF8.self))
            start = index + 1
        }
    }

    public var unmatched: ArraySlice<String> { lines[position...] }

    /// Consumes the lines matching `pattern`; false (consuming nothing) when they do not match.
    public mutating func match(_ pattern: String) -> Bool {
        let p = Array(pattern)
        if p.count == 3 {
            var index = position
            while index < lines.count {
                let line = Array(lines[index])
                guard line.count >= 3, Self.codeMatches(p, line) else { return false }
                index += 1
                if line.count == 3 || line[3] == " " {
                    position = index
                    return true
                }
                guard line[3] == "-" else { return false }
            }
            return false
        }
        if p.count == 5, p[3] == "-", p[4] == "*" {
            var index = position
            while index < lines.count {
                let line = Array(lines[index])
                guard line.count >= 4, Self.codeMatches(p, line), line[3] == "-" else { break }
                index += 1
            }
            guard index > position else { return false }
            position = index
            return true
        }
        guard position < lines.count, Self.lineMatches(p, Array(lines[position])) else { return false }
        position += 1
        return true
    }

    public static func codeMatches(_ pattern: [Character], _ line: [Character]) -> Bool {
        (0..<3).allSatisfy { i in pattern[i] == "*" ? (line[i].isASCII && line[i].isNumber) : pattern[i] == line[i] }
    }

    public static func lineMatches(_ pattern: [Character], _ line: [Character]) -> Bool {
        guard pattern.count >= 3, line.count >= 3, codeMatches(pattern, line) else { return false }
        if pattern.last == "*" && pattern.count > 3 {
            let prefix = pattern[3..<(pattern.count - 1)]
            return line.count - 3 >= prefix.count && Array(line[3..<(3 + prefix.count)]) == Array(prefix)
        }
        return Array(pattern[3...]) == Array(line[3...])
    }
}
