// LineEndingConverter: turns the CRLF line endings of the wire form into the LF of Maildir storage, as the
// bytes stream by, and counts what the CRLF (POP3) form of the stored bytes weighs: the W= size.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        guard let base = input.baseAddress, input.count > 0 else { return }
        let start = output.count
        output.reserveCapacity(start + input.count + 1)
        if pendingCR {
            pendingCR = false
            if input[0] != 0x0A { output.append(0x0D) }
        }
        // Copy runs between CRs with memchr: most messages have one CR per line, so this is mostly memcpy.
        var index = 0
        while index < input.count {
            let end = memchr(base + index, 0x0D, input.count - index).map { UnsafeRawPointer($0) - base } ?? input.count
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[index..<end]))
            guard end < input.count else { break }
            if end + 1 == input.count {
                pendingCR = true
            } else if input[end + 1] != 0x0A {
                output.append(0x0D)
            }
            index = end + 1
        }
        lineFeedCount += output.withUnsafeBytes { Self.countLineFeeds(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        storedSize += output.count - start
    }

    private static func countLineFeeds(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var count = 0
        var index = 0
        while index < bytes.count, let hit = memchr(base + index, 0x0A, bytes.count - index) {
            count += 1
            index = UnsafeRawPointer(hit) - base + 1
        }
        return count
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
