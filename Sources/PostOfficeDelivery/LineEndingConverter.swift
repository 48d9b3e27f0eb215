// LineEndingConverter: turns the CRLF line endings of the wire form into the LF of Maildir storage, as the
// bytes stream by, and counts what the CRLF (POP3) form of the stored bytes weighs: the W= size.

/// Streams CRLF → LF. A bare CR (not followed by LF) is kept; a bare LF is kept. A CR at the end of one chunk
/// is held until the next chunk shows whether LF follows.
///
/// ``virtualSize`` is the size of the stored bytes when every LF is sent as CRLF — what a POP3 server serving
/// this file announces ([RFC 1939 §5 LIST](https://www.rfc-editor.org/rfc/rfc1939#page-6)) and what Dovecot
/// records as `W=`.
public struct LineEndingConverter: Sendable {
    private var pendingCR = false
    /// Bytes produced so far.
    public private(set) var storedSize = 0
    /// LF bytes produced so far.
    public private(set) var lineFeedCount = 0

    public init() {}

    /// The CRLF size of the output so far.
    public var virtualSize: Int { storedSize + lineFeedCount }

    /// Converts `input`, appending to `output`.
    public mutating func convert(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        let start = output.count
        output.reserveCapacity(start + input.count + 1)
        for byte in input {
            if pendingCR {
                pendingCR = false
                if byte != 0x0A { output.append(0x0D) }
            }
            if byte == 0x0D {
                pendingCR = true
            } else {
                if byte == 0x0A { lineFeedCount += 1 }
                output.append(byte)
            }
        }
        storedSize += output.count - start
    }

    /// Emits a CR held back at the end of the stream.
    public mutating func finish(into output: inout [UInt8]) {
        if pendingCR {
            pendingCR = false
            output.append(0x0D)
            storedSize += 1
        }
    }
}
