// DSNOriginalEncoder: streams the original message into the report's third part chunk by chunk, in
// constant memory: line ends made CRLF, header section only for text/rfc822-headers, and a line that
// would read as the report's boundary is defused.

/// Turns the original message's bytes, fed in chunks of any size, into the body of the report's last part
/// (`message/rfc822` or `text/rfc822-headers`,
/// [RFC 6522 §3](https://www.rfc-editor.org/rfc/rfc6522#section-3)). Keeps a few flags, never a buffer:
/// memory does not grow with the message.
///
/// The boundary is random (see ``DSNComposer``), so a line starting with `--boundary` cannot occur in
/// honest content; should one occur anyway, a space is put before it so the report stays well-formed
/// (counted in ``boundaryCollisions``).
public struct DSNOriginalEncoder: Sendable {
    private let delimiter: [UInt8]
    private let headersOnly: Bool
    /// Bytes of the current line consumed so far (held or written).
    private var lineHasBytes = false
    /// The current line is still a prefix of the delimiter; `matched` bytes of it are held back.
    private var matching = true
    private var matched = 0
    private var afterCR = false

    /// True once the header section has ended in headers-only mode (the caller may stop reading), and
    /// after ``finish()``; further input is ignored.
    public private(set) var isComplete = false
    /// True when a byte above 0x7F was seen (the part needs `8bit`; see ``DSNComposer/compose(_:envelope:outcomes:date:random:originalIs8Bit:)``).
    public private(set) var sawEightBit = false
    /// Lines that began with the boundary delimiter and were defused.
    public private(set) var boundaryCollisions = 0

    /// An encoder for a report with `boundary` returning `content`.
    public init(boundary: String, content: DSNReturnContent) {
        delimiter = Array(("--" + boundary).utf8)
        headersOnly = content == .headers
    }

    /// Appends the encoded form of `chunk` to `out`.
    public mutating func encode(_ chunk: some Sequence<UInt8>, into out: inout [UInt8]) {
        guard !isComplete else { return }
        for byte in chunk {
            if byte == 0x0A, afterCR {  // the LF of a CRLF whose CR already ended the line
                afterCR = false
                continue
            }
            afterCR = byte == 0x0D
            if byte == 0x0D || byte == 0x0A {
                if headersOnly, !lineHasBytes {  // the empty line: end of the header section
                    isComplete = true
                    return
                }
                releaseHeld(into: &out)
                out += [0x0D, 0x0A]  // bare LF and bare CR both become CRLF
                lineHasBytes = false
                matching = true
                continue
            }
            lineHasBytes = true
            if byte >= 0x80 { sawEightBit = true }
            if matching {
                if byte == delimiter[matched] {
                    matched += 1
                    if matched == delimiter.count {
                        boundaryCollisions += 1
                        out.append(0x20)
                        releaseHeld(into: &out)
                    }
                    continue
                }
                releaseHeld(into: &out)
            }
            out.append(byte)
        }
    }

    /// The encoded form of `chunk`.
    public mutating func encode(_ chunk: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        encode(chunk, into: &out)
        return out
    }

    /// The last bytes: anything held back, and CRLF when the original did not end with a line break
    /// (the delimiter that follows must start a line of its own).
    public mutating func finish() -> [UInt8] {
        var out: [UInt8] = []
        guard !isComplete else { return out }
        if lineHasBytes {
            releaseHeld(into: &out)
            out += [0x0D, 0x0A]
            lineHasBytes = false
        }
        isComplete = true
        return out
    }

    private mutating func releaseHeld(into out: inout [UInt8]) {
        out += delimiter[0..<matched]
        matched = 0
        matching = false
    }
}
