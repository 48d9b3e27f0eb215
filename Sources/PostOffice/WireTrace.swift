// WireTrace: the `--verbose` protocol trace, one log line per protocol line, with credentials redacted
// (PASS, APOP, AUTH and the SASL responses that follow AUTH), so a trace can be shared without leaking
// passwords. Client bytes are framed into lines first: a secret split over reads is still one line.

import PostOfficeCore

/// Turns raw session bytes into redacted trace lines.
///
/// Client bytes are buffered until their line ends, so `PA` + `SS secret\r\n` or `AUTH PLAIN` sent a byte
/// at a time is judged as the whole line. A line longer than ``maximumLineLength`` is judged on its first
/// ``maximumLineLength`` bytes, logged once (redacted or cut) and the rest of it dropped, so memory stays
/// bounded. After `AUTH <mechanism>` the client's SASL responses are redacted: as many as the mechanism
/// takes (PLAIN 1, LOGIN 2, ... less an initial response), and for a mechanism not known here every line
/// that looks like a SASL response (base64, `*` or empty) until one that does not.
struct WireTrace {
    /// Longest client line buffered before it is logged cut short.
    static let maximumLineLength = 1024
    /// Characters of a line shown in the log.
    static let maximumShownLength = 200
    /// Lines logged per chunk, so a trace of a large message body stays small.
    static let maximumLinesPerChunk = 20

    /// SASL responses still to come after AUTH.
    private enum SASLState {
        case none
        /// A known mechanism with this many responses left.
        case responses(Int)
        /// An unknown mechanism: responses continue while lines look like them.
        case untilOtherLine
    }

    /// The client's unfinished line.
    private var partial: [UInt8] = []
    /// The current client line was already logged (too long): drop its bytes up to the line feed.
    private var isDroppingRestOfLine = false
    private var sasl = SASLState.none

    /// The printable lines a chunk from the client completes, secrets replaced by `<redacted>`.
    mutating func clientLines(_ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let lineFeed = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            let end = lineFeed ?? bytes.endIndex
            if !isDroppingRestOfLine {
                partial.append(contentsOf: bytes[start..<min(end, start + Self.maximumLineLength - partial.count + 1)])
            }
            if lineFeed != nil {
                if !isDroppingRestOfLine { out.append(redacted(partial)) }
                partial.removeAll(keepingCapacity: true)
                isDroppingRestOfLine = false
                start = end + 1
                continue
            }
            if partial.count > Self.maximumLineLength {
                // Judged on its head; the tail (perhaps more of a secret) is never shown.
                out.append(redacted(Array(partial.prefix(Self.maximumLineLength))) + " ...")
                partial.removeAll(keepingCapacity: true)
                isDroppingRestOfLine = true
            }
            start = end
        }
        return Self.capped(out)
    }

    /// The lines of a chunk sent to the client.
    func serverLines(_ bytes: [UInt8]) -> [String] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Self.printable(Array($0)) }
        if lines.last == "" { lines.removeLast() }
        return Self.capped(lines)
    }

    /// One complete client line as it may be logged; moves the SASL state along.
    private mutating func redacted(_ raw: [UInt8]) -> String {
        let line = raw.filter { $0 != UInt8(ascii: "\r") }
        switch sasl {
        case .responses(let left):
            sasl = left > 1 ? .responses(left - 1) : .none
            // `*` cancels the exchange (RFC 4954 §4).
            if line == [UInt8(ascii: "*")] { sasl = .none }
            return "<redacted>"
        case .untilOtherLine:
            if Self.looksLikeSASLResponse(line) {
                if line == [UInt8(ascii: "*")] { sasl = .none }
                return "<redacted>"
            }
            sasl = .none
        case .none:
            break
        }
        let words = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        let verb = words.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? ""
        switch verb {
        case "PASS":
            return "PASS <redacted>"
        case "APOP":
            return words.count >= 2 ? "APOP \(Self.printable(Array(words[1]))) <redacted>" : "APOP <redacted>"
        case "AUTH":
            guard words.count >= 2 else { return "AUTH <redacted>" }
            let mechanism = String(decoding: words[1], as: UTF8.self).uppercased()
            let initialResponse = words.count >= 3 && Array(words[2]) != [UInt8(ascii: "=")]
            sasl = Self.state(after: mechanism, initialResponse: initialResponse)
            return "AUTH \(Self.printable(Array(words[1]))) <redacted>"
        default:
            return Self.printable(line)
        }
    }

    /// How many responses a mechanism's client sends after AUTH.
    private static func state(after mechanism: String, initialResponse: Bool) -> SASLState {
        let steps: Int
        switch mechanism {
        case "PLAIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "EXTERNAL", "ANONYMOUS": steps = 1
        case "LOGIN": steps = 2
        default: return .untilOtherLine
        }
        let left = steps - (initialResponse ? 1 : 0)
        return left > 0 ? .responses(left) : .none
    }

    /// Base64 (RFC 4648 alphabet), `=` or `*`, or empty: what a SASL response line is made of.
    private static func looksLikeSASLResponse(_ line: [UInt8]) -> Bool {
        line.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="),
                UInt8(ascii: "*"):
                return true
            default:
                return false
            }
        }
    }

    /// Drops CR, shows control bytes as `\xNN`, and cuts the line for the log.
    private static func printable(_ raw: [UInt8]) -> String {
        var line = ""
        for b in raw.lazy.filter({ $0 != UInt8(ascii: "\r") }).prefix(maximumShownLength) {
            if b < 0x20 || b == 0x7f {
                line += "\\x" + String(b, radix: 16)
            } else {
                line.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return line
    }

    private static func capped(_ lines: [String]) -> [String] {
        guard lines.count > maximumLinesPerChunk else { return lines }
        return Array(lines.prefix(maximumLinesPerChunk)) + ["(\(lines.count - maximumLinesPerChunk) more lines)"]
    }
}
