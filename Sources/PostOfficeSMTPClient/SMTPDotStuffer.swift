// SMTPDotStuffer: streams message content into the DATA wire form: CRLF line ends, leading dots doubled,
// `.CRLF` at the end. Memory stays flat: each chunk in, its wire form out, whatever the message size.

/// Streaming encoder for DATA content
/// ([RFC 5321 §4.5.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.2) transparency).
///
/// - A bare LF becomes CRLF (Maildir keeps LF); CRLF stays; a CR not followed by LF is kept.
/// - A line that starts with `.` gets another `.` in front (only when `stuffsDots`; BDAT content is not
///   stuffed, [RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2)).
/// - Chunks may be cut anywhere, even between CR and LF: the output is the same for every split.
public struct SMTPDotStuffer: Sendable {
    /// Double leading dots (DATA) or only fix line ends (BDAT).
    public let stuffsDots: Bool
    private var isAtLineStart = true
    private var lastByteWasCR = false
    /// Octets written so far.
    public private(set) var octetsWritten = 0

    public init(stuffsDots: Bool = true) {
        self.stuffsDots = stuffsDots
    }

    /// The wire form of the next chunk of content.
    public mutating func encode(_ chunk: some Collection<UInt8>) -> [UInt8] {
        // Called across modules the generic is not specialized: iterating it would cost a witness call per
        // byte. Contiguous chunks (an array, a slice of one) take the buffer path.
        if let out = chunk.withContiguousStorageIfAvailable({ encode(buffer: $0) }) { return out }
        return Array(chunk).withUnsafeBufferPointer { encode(buffer: $0) }
    }

    /// The wire form of `input`: runs with nothing to change are copied whole; only the line starts and
    /// bare LFs are looked at one by one.
    private mutating func encode(buffer input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let count = input.count
        guard count > 0 else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(count + count / 32 + 2)
        var runStart = 0
        var index = 0
        while index < count {
            let byte = input[index]
            if isAtLineStart && stuffsDots && byte == UInt8(ascii: ".") || byte == 10 && !lastByteWasCR {
                if runStart < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<index])) }
                out.append(byte == 10 ? 13 : UInt8(ascii: "."))
                runStart = index
            }
            isAtLineStart = byte == 10
            lastByteWasCR = byte == 13
            index += 1
        }
        if runStart < count { out.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<count])) }
        octetsWritten += out.count
        return out
    }

    /// Ends the content: CRLF when the last line had none (so the content ends in a line end), then `.CRLF`
    /// when stuffing dots (the DATA terminator).
    public mutating func finish() -> [UInt8] {
        var out: [UInt8] = []
        if !isAtLineStart { out += lastByteWasCR ? [10] : [13, 10] }
        if stuffsDots { out += [UInt8(ascii: "."), 13, 10] }
        isAtLineStart = true
        lastByteWasCR = false
        octetsWritten += out.count
        return out
    }
}
