// DataDecoderModel: the reference definition of SMTP DATA content used as the oracle for SMTPDataDecoder,
// written as whole-input string operations rather than a state machine.

enum DataDecoderModel {
    /// The decoded content and how many bytes the end marker consumed, for a stream that contains one.
    static func decode(_ stream: [UInt8]) -> (content: [UInt8], consumedCount: Int) {
        // The end is ".CRLF" at the start or right after a CRLF (the DATA line's CRLF counts as the first).
        var end = 0
        while true {
            let isLineStart = end == 0 || (end >= 2 && stream[end - 2] == 13 && stream[end - 1] == 10)
            if isLineStart && end + 3 <= stream.count && stream[end] == 46 && stream[end + 1] == 13 && stream[end + 2] == 10 {
                break
            }
            end += 1
            precondition(end + 3 <= stream.count, "model: stream without end marker")
        }
        // Lines are separated by real CRLFs only; the text before the end ends with one (or is empty).
        var content: [UInt8] = []
        var lineStart = 0
        var index = 0
        while index + 1 < end {
            if stream[index] == 13 && stream[index + 1] == 10 {
                content += decodeLine(stream[lineStart..<index])
                content += [13, 10]
                index += 2
                lineStart = index
            } else {
                index += 1
            }
        }
        precondition(lineStart == end, "model: text before the end marker does not end with CRLF")
        return (content, end + 3)
    }

    /// One line between real CRLFs: a leading dot goes unless only a bare LF follows it; bare LF becomes CRLF.
    private static func decodeLine(_ line: ArraySlice<UInt8>) -> [UInt8] {
        var text = Array(line)
        if text.first == 46 && !(text.count >= 2 && text[1] == 10) { text.removeFirst() }
        var out: [UInt8] = []
        for (offset, byte) in text.enumerated() {
            if byte == 10 && !(offset > 0 && text[offset - 1] == 13) { out.append(13) }
            out.append(byte)
        }
        return out
    }

    /// The longest line of decoded content, LF included (lines end at every LF).
    static func longestLine(_ content: [UInt8]) -> Int {
        var longest = 0
        var current = 0
        for byte in content {
            current += 1
            if byte == 10 {
                longest = max(longest, current)
                current = 0
            }
        }
        return max(longest, current)
    }
}
