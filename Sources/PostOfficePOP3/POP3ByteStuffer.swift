// POP3ByteStuffer: streams a stored message (LF line endings, as Maildir keeps it) into the RETR/TOP wire
// form: CRLF line endings, leading dots doubled, ".\r\n" at the end; stops after TOP's body line count.
// It works on whole runs between LFs (memchr + bulk append) because it is on the hot path of every download.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streaming multi-line encoder for message bodies
/// ([RFC 1939 §3](https://www.rfc-editor.org/rfc/rfc1939#section-3), TOP in
/// [§7](https://www.rfc-editor.org/rfc/rfc1939#page-11)).
///
/// - LF becomes CRLF; an existing CRLF stays CRLF; a CR not followed by LF is kept as it is.
/// - A line starting with `.` gets another `.` in front.
/// - Chunk boundaries may fall anywhere (even between CR and LF): the output is the same for any split.
/// - With a body line limit n, the output is the header lines, the empty separator line, and the first n
///   body lines. A message without an empty line is all header and is sent whole.
public struct POP3ByteStuffer: Sendable {
    private let bodyLineLimit: Int?
    private var isAtLineStart = true
    /// The last byte written was a CR (so an LF arriving next, maybe in the next chunk, needs no CR).
    private var lastByteWasCR = false
    /// Bytes of the current line seen so far (only tracked for TOP, to spot the empty separator line).
    private var currentLineLength = 0
    private var isInHeader = true
    private var bodyLinesWritten = 0
    private var isComplete = false

    /// - Parameter bodyLineLimit: nil for RETR; for TOP, how many body lines to send (0 sends headers only).
    public init(bodyLineLimit: Int?) {
        self.bodyLineLimit = bodyLineLimit.map { max(0, $0) }
    }

    /// Appends the wire form of `chunk` to `output`. Returns false once the TOP limit is reached (the rest
    /// of the message need not be read; further chunks are ignored); true otherwise.
    @discardableResult
    public mutating func encode(_ chunk: some Collection<UInt8>, into output: inout [UInt8]) -> Bool {
        if isComplete { return false }
        if let result = chunk.withContiguousStorageIfAvailable({ encode(buffer: $0, into: &output) }) {
            return result
        }
        return Array(chunk).withUnsafeBufferPointer { encode(buffer: $0, into: &output) }
    }

    /// Ends the message: a CRLF if the last line had no LF, then the `.\r\n` terminator.
    public mutating func finish(into output: inout [UInt8]) {
        if !isAtLineStart {
            if !lastByteWasCR { output.append(13) }
            output.append(10)
        }
        output.append(UInt8(ascii: "."))
        output.append(13)
        output.append(10)
        isAtLineStart = true
        lastByteWasCR = false
        isComplete = true
    }

    private mutating func encode(buffer: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) -> Bool {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return true }
        let count = buffer.count
        // Room for the chunk plus a few extra bytes per line; grow geometrically so a caller that keeps
        // appending to one buffer does not pay for a copy per chunk.
        let needed = output.count + count + count / 32 + 8
        if output.capacity < needed { output.reserveCapacity(max(needed, output.capacity * 2)) }
        var index = 0
        while index < count {
            if isAtLineStart && base[index] == UInt8(ascii: ".") {
                output.append(UInt8(ascii: "."))
            }
            let remaining = count - index
            guard let hit = memchr(base + index, 10, remaining) else {
                // No LF in the rest of the chunk: copy it and remember where the line stands.
                output.append(contentsOf: UnsafeBufferPointer(start: base + index, count: remaining))
                lastByteWasCR = base[count - 1] == 13
                currentLineLength &+= remaining
                isAtLineStart = false
                return true
            }
            let lineFeed = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
            let runLength = lineFeed - index
            if runLength > 0 {
                output.append(contentsOf: UnsafeBufferPointer(start: base + index, count: runLength))
                lastByteWasCR = base[lineFeed - 1] == 13
            }
            if !lastByteWasCR { output.append(13) }
            output.append(10)
            index = lineFeed + 1
            if let limit = bodyLineLimit {
                let lineLength = currentLineLength &+ runLength
                // An empty line is "" or a lone CR before the LF.
                let isEmpty = lineLength == 0 || (lineLength == 1 && lastByteWasCR)
                if isInHeader {
                    if isEmpty {
                        isInHeader = false
                        if limit == 0 { return complete() }
                    }
                } else {
                    bodyLinesWritten += 1
                    if bodyLinesWritten >= limit { return complete() }
                }
            }
            currentLineLength = 0
            lastByteWasCR = false
            isAtLineStart = true
        }
        return true
    }

    /// TOP's limit is reached: the current line has been terminated, so `finish` adds only the ".".
    private mutating func complete() -> Bool {
        currentLineLength = 0
        lastByteWasCR = false
        isAtLineStart = true
        isComplete = true
        return false
    }
}
