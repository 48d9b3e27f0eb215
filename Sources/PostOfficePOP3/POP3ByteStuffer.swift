// POP3ByteStuffer: streams a stored message (LF line endings, as Maildir keeps it) into the RETR/TOP wire
// form: CRLF line endings, leading dots doubled, ".\r\n" at the end; stops after TOP's body line count.
// It works on whole runs between LFs (RETR: CByteScan's 16-byte steps; TOP: memchr + memcpy), written into
// scratch room with one append per chunk, because it is on the hot path of every download.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CByteScan

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
        guard let source = buffer.baseAddress, buffer.count > 0 else { return true }
        let count = buffer.count
        // Each input byte becomes at most two (an LF gains a CR, a dot at a line start gains a dot), so the
        // wire form is written with plain stores and memcpy into scratch room of that bound, then appended to
        // `output` at once: appending each line, its CR and its LF to the array cost more than the copying
        // (capacity and uniqueness checks, ~140 instructions a line).
        var more = true
        let kept = output.count
        output = [UInt8](unsafeUninitializedCapacity: kept + 2 * count) { target, initialized in
            let base = target.baseAddress!
            output.withUnsafeBufferPointer { if let start = $0.baseAddress, kept > 0 { memcpy(base, start, kept) } }
            if bodyLineLimit == nil {
                // RETR: no line counting, so the vectorized loop (16 bytes per step between line feeds).
                var atLineStart: Int32 = isAtLineStart ? 1 : 0, lastWasCR: Int32 = lastByteWasCR ? 1 : 0
                initialized = kept + cbytescan_pop3_stuff(source, count, base + kept, &atLineStart, &lastWasCR)
                isAtLineStart = atLineStart != 0
                lastByteWasCR = lastWasCR != 0
            } else {
                initialized = kept + encodeLines(source, count: count, into: base + kept, more: &more)
            }
        }
        return more
    }

    /// Writes the wire form of the `count` bytes at `source` to `target` (room for `2 * count`) and returns how
    /// many bytes it wrote; `more` becomes false once TOP's limit is reached.
    private mutating func encodeLines(
        _ source: UnsafePointer<UInt8>, count: Int, into target: UnsafeMutablePointer<UInt8>, more: inout Bool
    ) -> Int {
        var written = 0
        var index = 0
        while index < count {
            if isAtLineStart && source[index] == UInt8(ascii: ".") {
                target[written] = UInt8(ascii: ".")
                written += 1
            }
            let remaining = count - index
            guard let hit = memchr(source + index, 10, remaining) else {
                // No LF in the rest of the chunk: copy it and remember where the line stands.
                (target + written).initialize(from: source + index, count: remaining)
                written += remaining
                lastByteWasCR = source[count - 1] == 13
                currentLineLength &+= remaining
                isAtLineStart = false
                return written
            }
            let lineFeed = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - source
            let runLength = lineFeed - index
            if runLength > 0 {
                (target + written).initialize(from: source + index, count: runLength)
                written += runLength
                lastByteWasCR = source[lineFeed - 1] == 13
            }
            if !lastByteWasCR {
                target[written] = 13
                written += 1
            }
            target[written] = 10
            written += 1
            index = lineFeed + 1
            if let limit = bodyLineLimit {
                let lineLength = currentLineLength &+ runLength
                // An empty line is "" or a lone CR before the LF.
                let isEmpty = lineLength == 0 || (lineLength == 1 && lastByteWasCR)
                if isInHeader {
                    if isEmpty {
                        isInHeader = false
                        if limit == 0 {
                            more = complete()
                            return written
                        }
                    }
                } else {
                    bodyLinesWritten += 1
                    if bodyLinesWritten >= limit {
                        more = complete()
                        return written
                    }
                }
            }
            currentLineLength = 0
            lastByteWasCR = false
            isAtLineStart = true
        }
        return written
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
