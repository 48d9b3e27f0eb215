// ByteStufferModel: the obvious, slow definition of the POP3 multi-line wire form (RFC 1939 §3) used as
// the oracle for POP3ByteStuffer: split at LF, end every line with CRLF, double leading dots, add ".CRLF".

enum ByteStufferModel {
    /// The wire form of a stored message: every line ends with CRLF (a line already ending in CR gets only
    /// LF), a leading "." is doubled, then ".\r\n". With a body line limit (TOP) only the header, the empty
    /// line and that many body lines are sent; a message without an empty line is all header.
    static func wire(of message: [UInt8], bodyLineLimit: Int?, stuffsDots: Bool = true) -> [UInt8] {
        var lines = message.split(separator: 10, omittingEmptySubsequences: false).map(Array.init)
        // A final LF leaves an empty last piece that is not a line.
        if lines.last?.isEmpty == true { lines.removeLast() }
        if let limit = bodyLineLimit.map({ max(0, $0) }) {
            if let separator = lines.firstIndex(where: { $0.isEmpty || $0 == [13] }) {
                lines = Array(lines.prefix(separator + 1 + limit))
            }
        }
        var out: [UInt8] = []
        for line in lines {
            if stuffsDots && line.first == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out += line
            if line.last != 13 { out.append(13) }
            out.append(10)
        }
        out += [UInt8(ascii: "."), 13, 10]
        return out
    }

    /// True when some CRLF-delimited line before the final one is exactly ".", which would end the
    /// response early on the client side.
    static func containsEarlyTerminator(_ wire: [UInt8]) -> Bool {
        var lineStart = 0
        var index = 0
        while index + 1 < wire.count {
            if wire[index] == 13 && wire[index + 1] == 10 {
                let isDot = index - lineStart == 1 && wire[lineStart] == UInt8(ascii: ".")
                if isDot && index + 2 < wire.count { return true }
                lineStart = index + 2
                index += 2
            } else {
                index += 1
            }
        }
        return false
    }
}
