// WireTrace: the `--verbose` protocol trace, one log line per protocol line, with credentials redacted
// (PASS, AUTH and the SASL responses that follow AUTH), so a trace can be shared without leaking passwords.

import PostOfficeCore

/// Turns raw session bytes into redacted trace lines.
struct WireTrace {
    /// The next client line is a SASL response (after `AUTH PLAIN` without an initial response).
    private var redactsNextLine = false

    /// The printable lines of a chunk from the client, secrets replaced by `<redacted>`.
    mutating func clientLines(_ bytes: [UInt8]) -> [String] {
        lines(bytes).map { line in
            if redactsNextLine {
                redactsNextLine = false
                return "<redacted>"
            }
            let upper = line.uppercased()
            if upper.hasPrefix("PASS ") || upper == "PASS" { return "PASS <redacted>" }
            if upper.hasPrefix("AUTH ") {
                let words = line.split(separator: " ", omittingEmptySubsequences: true)
                if words.count <= 2 { redactsNextLine = true }
                return words.count >= 2 ? "AUTH \(words[1]) <redacted>" : "AUTH <redacted>"
            }
            return line
        }
    }

    /// The lines of a chunk sent to the client.
    func serverLines(_ bytes: [UInt8]) -> [String] {
        lines(bytes)
    }

    /// Splits at LF, drops CR, shows control bytes as `\xNN`, and caps lines and count so a trace of a
    /// large message body stays small.
    private func lines(_ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).prefix(20) {
            var line = ""
            for b in raw.prefix(200) where b != UInt8(ascii: "\r") {
                if b < 0x20 || b == 0x7f {
                    line += "\\x" + String(b, radix: 16)
                } else {
                    line.unicodeScalars.append(Unicode.Scalar(b))
                }
            }
            out.append(line)
        }
        if out.last == "" { out.removeLast() }
        return out
    }
}
