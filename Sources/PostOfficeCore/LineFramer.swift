// LineFramer: splits an incoming byte stream into protocol lines, with a length cap, for SMTP and POP3.
// It only frames: it never parses. "No full line yet" (nil) is distinct from "line too long" (.tooLong).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An incremental line splitter. Lines end at LF; one CR before the LF is removed too, so `CRLF` and a
/// bare `LF` both end a command line (Postfix and Dovecot accept bare LF in commands).
///
/// Memory is bounded: a line longer than `maximumLineLength` (terminator included) yields `.tooLong` once,
/// and its remaining bytes are dropped up to and including the next LF.
public struct LineFramer: Sendable {
    /// A result of ``nextFrame()``.
    public enum Frame: Hashable, Sendable {
        /// A complete line without its terminator.
        case line([UInt8])
        /// A line exceeded the limit; it has been (or is being) discarded.
        case tooLong
    }

    /// The longest line accepted, terminator included.
    public var maximumLineLength: Int

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for LF resumes, so a slow client's bytes are scanned once.
    private var scanIndex = 0
    private var discarding = false

    public init(maximumLineLength: Int) {
        self.maximumLineLength = maximumLineLength
    }

    /// Bytes received and not yet returned as a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Returns the next frame, or nil when no full line is buffered yet.
    public mutating func nextFrame() -> Frame? {
        while true {
            guard let lf = findLF() else {
                if discarding {
                    // Drop what we have: the rest of an over-long line is not worth keeping.
                    readIndex = buffer.count
                    scanIndex = buffer.count
                    return nil
                }
                if buffer.count - readIndex >= maximumLineLength {
                    discarding = true
                    readIndex = buffer.count
                    scanIndex = buffer.count
                    return .tooLong
                }
                return nil
            }
            let start = readIndex
            readIndex = lf + 1
            scanIndex = readIndex
            if discarding {
                discarding = false
                continue
            }
            if lf + 1 - start > maximumLineLength { return .tooLong }
            var end = lf
            if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            return .line(Array(buffer[start..<end]))
        }
    }

    /// Removes and returns every buffered byte not yet framed (for a switch to DATA or BDAT mode).
    public mutating func takeBuffered() -> [UInt8] {
        let rest = Array(buffer[readIndex...])
        buffer.removeAll(keepingCapacity: false)
        readIndex = 0
        scanIndex = 0
        discarding = false
        return rest
    }

    /// Drops every buffered byte (after STARTTLS: bytes sent before the handshake must not be obeyed).
    public mutating func discardBuffered() {
        _ = takeBuffered()
    }

    private mutating func findLF() -> Int? {
        guard scanIndex < buffer.count else { return nil }
        let found: Int? = buffer.withUnsafeBufferPointer { p in
            let base = p.baseAddress! + scanIndex
            guard let hit = memchr(base, Int32(UInt8(ascii: "\n")), p.count - scanIndex) else { return nil }
            return scanIndex + (UnsafeRawPointer(hit) - UnsafeRawPointer(base))
        }
        if found == nil { scanIndex = buffer.count }
        return found
    }

    private mutating func compactIfWorthwhile() {
        if readIndex > 0 && (readIndex == buffer.count || readIndex >= 4096) {
            buffer.removeFirst(readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }
}
