// SMTPTranscript: parser and reply matcher for the transcript files in Transcripts/ (format: Transcripts/README.md).
// Shipped in PostOfficeTesting: the engine's in-memory tests and the live-server tests replay the same files.
//
// Format summary: `C: text` (client line, CRLF added), `W: escaped` (raw bytes, \r \n \t \\ \xHH),
// `S: pattern` (next server reply line), `E: envelope` / `M: line` / `B: escaped` (next accepted message),
// `!event` (shutdown, timeout), `# key: value` directives before the first step, other `#` lines comments.

/// One parsed transcript file.
public struct SMTPTranscript: Sendable {
    public enum Step: Hashable, Sendable {
        /// Bytes the client sends in one write (consecutive C:/W: lines are one write: that is pipelining).
        case write([UInt8])
        /// A pattern for the next server reply line.
        case expect(String)
        /// A driver event such as `shutdown` or `timeout`.
        case event(String)
    }

    /// What the next accepted message should look like.
    public struct ExpectedMessage: Hashable, Sendable {
        /// `from=<...> to=<...>[,<...>]` plus optional tokens (see README); nil for no check.
        public var envelope: String?
        /// The content (M: lines with CRLF, B: raw bytes); nil for no check.
        public var content: [UInt8]?
    }

    public struct FormatError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    public var name: String
    /// `# key: value` header lines, key lower-cased.
    public var directives: [String: String] = [:]
    public var steps: [Step] = []
    public var expectedMessages: [ExpectedMessage] = []

    public init(name: String, text: String) throws {
        self.name = name
        var write: [UInt8] = []
        var inHeader = true
        var lastWasMessageLine = false
        func flush() {
            if !write.isEmpty { steps.append(.write(write)) }
            write = []
        }
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if line.last == "\r" { line.removeLast() }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if inHeader, let colon = line.firstIndex(of: ":") {
                    let key = line[line.index(after: line.startIndex)..<colon].trimmingSpaces.lowercased()
                    if !key.isEmpty, !key.contains(" ") {
                        directives[key] = String(line[line.index(after: colon)...].trimmingSpaces)
                    }
                }
                continue
            }
            inHeader = false
            if line.hasPrefix("!") {
                flush()
                steps.append(.event(String(line.dropFirst()).trimmingSpaces))
                lastWasMessageLine = false
                continue
            }
            guard line.count >= 2, line.dropFirst().first == ":" else {
                throw FormatError(line: number + 1, message: "expected `X: ...`, got \(line)")
            }
            let kind = line.first!
            var body = line.dropFirst(2)
            if body.first == " " { body = body.dropFirst() }
            switch kind {
            case "C":
                write += Array(body.utf8) + [13, 10]
                lastWasMessageLine = false
            case "W":
                write += try Self.unescape(String(body), line: number + 1)
                lastWasMessageLine = false
            case "S":
                flush()
                steps.append(.expect(String(body)))
                lastWasMessageLine = false
            case "E":
                expectedMessages.append(ExpectedMessage(envelope: String(body), content: nil))
                lastWasMessageLine = true
            case "M", "B":
                let bytes =
                    kind == "M" ? Array(body.utf8) + [13, 10] : try Self.unescape(String(body), line: number + 1)
                if !lastWasMessageLine || expectedMessages.isEmpty {
                    expectedMessages.append(ExpectedMessage(envelope: nil, content: nil))
                }
                expectedMessages[expectedMessages.count - 1].content =
                    (expectedMessages[expectedMessages.count - 1].content ?? []) + bytes
                lastWasMessageLine = true
            default:
                throw FormatError(line: number + 1, message: "unknown line kind \(kind)")
            }
        }
        flush()
    }

    /// Words of a directive (`users`, `domains`...), split at spaces and commas.
    public func words(_ key: String) -> [String] {
        (directives[key] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }

    /// `key=value` pairs of the `config` directive.
    public var configuration: [String: String] {
        var result: [String: String] = [:]
        for word in words("config") {
            let parts = word.split(separator: "=", maxSplits: 1)
            result[String(parts[0])] = parts.count == 2 ? String(parts[1]) : "true"
        }
        return result
    }

    public var hasEvents: Bool { steps.contains { if case .event = $0 { true } else { false } } }

    /// Every client byte, in order.
    public var clientBytes: [UInt8] {
        steps.flatMap { step -> [UInt8] in if case .write(let bytes) = step { bytes } else { [] } }
    }

    /// Decodes `\r`, `\n`, `\t`, `\\`, `\xHH`; other characters stand for their UTF-8 bytes.
    public static func unescape(_ text: String, line: Int = 0) throws -> [UInt8] {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let c = bytes.popFirst() {
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            switch bytes.popFirst() {
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
                else { throw FormatError(line: line, message: "bad \\x escape") }
                out.append(value)
                bytes = bytes.dropFirst(2)
            default:
                throw FormatError(line: line, message: "unknown escape in \(text)")
            }
        }
        return out
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
