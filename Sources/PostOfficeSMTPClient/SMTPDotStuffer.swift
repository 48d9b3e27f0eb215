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
        var out: [UInt8] = []
        out.reserveCapacity(chunk.count + chunk.count / 32 + 2)
        for byte in chunk {
            if isAtLineStart && stuffsDots && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            if byte == 10 && !lastByteWasCR { out.append(13) }
            out.append(byte)
            isAtLineStart = byte == 10
            lastByteWasCR = byte == 13
        }
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
