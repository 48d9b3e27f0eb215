// SMTPDataDecoder: the DATA content decoder (dot-unstuffing, end-of-data detection, line-end repair, caps).
// Incremental and streaming: state survives any split of the input, output is never accumulated here.
// Whole clean lines (CRLF-ended, no other CR, not starting with a dot) are found with memchr and copied as
// one run; everything else goes through the byte-at-a-time state machine, which defines the rules.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes message content sent after DATA
/// ([RFC 5321 §4.1.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.4),
/// [§4.5.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.2)).
///
/// Rules, chosen against SMTP smuggling:
/// - Only `CR LF . CR LF` ends the data. The CRLF that ended the DATA command counts, so content that
///   begins with `. CR LF` is empty.
/// - A bare LF is content: it is stored as CRLF (like Postfix `smtpd_forbid_bare_newline = normalize`) but it
///   never starts a line for the end marker or dot-unstuffing, so `LF . LF`, `LF . CR LF` and `CR LF . LF`
///   never end the data (`CR LF . LF` is stored as `CR LF . CR LF`, the dot kept because the line holds
///   nothing else).
/// - A bare CR (not followed by LF) is content, stored unchanged; `CR . CR LF` does not end the data.
/// - A line starting with a dot and holding more has that dot removed (RFC 5321 §4.5.2).
/// - Octets are counted after decoding. Past `maximumMessageSize` (or a line past `maximumLineLength`, when
///   set) the decoder stops producing content but keeps reading to the end marker, so the reply comes at
///   the right place in the stream.
public struct SMTPDataDecoder: Sendable {
    /// The result of one ``decode(_:)`` call.
    public struct Output: Hashable, Sendable {
        /// Decoded content from this call (empty once a limit was exceeded).
        public var content: [UInt8]
        /// How many input bytes were used; less than given only when the end marker came before the end,
        /// and the rest belongs to the next command.
        public var consumedCount: Int
        /// The end marker was found.
        public var isComplete: Bool
    }

    private enum State: Sendable {
        /// After a real CRLF, or at the very start.
        case lineStart
        /// `.` at a line start.
        case dot
        /// `.` CR at a line start.
        case dotCR
        /// Inside a line (also right after a bare LF).
        case text
        /// A CR was read and not yet written.
        case textCR
    }

    /// The largest content accepted, in octets.
    public let maximumMessageSize: Int
    /// The longest content line accepted, CRLF included; nil for no limit.
    public let maximumLineLength: Int?
    /// Octets of decoded content so far, counted even past the limit.
    public private(set) var octetCount = 0
    /// The content grew past ``maximumMessageSize``.
    public private(set) var isOversize = false
    /// A line grew past ``maximumLineLength``.
    public private(set) var hasOverlongLine = false
    /// The end marker was read.
    public private(set) var isComplete = false

    private var state = State.lineStart
    private var lineLength = 0

    public init(maximumMessageSize: Int, maximumLineLength: Int? = nil) {
        self.maximumMessageSize = maximumMessageSize
        self.maximumLineLength = maximumLineLength
    }

    /// True once a limit was exceeded: the message must be refused.
    public var hasFailed: Bool { isOversize || hasOverlongLine }

    /// Decodes the next input bytes.
    public mutating func decode(_ bytes: some Collection<UInt8>) -> Output {
        if let output = bytes.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return output }
        return Array(bytes).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    private mutating func decode(buffer: UnsafeBufferPointer<UInt8>) -> Output {
        var content: [UInt8] = []
        guard !isComplete else { return Output(content: [], consumedCount: 0, isComplete: true) }
        content.reserveCapacity(min(buffer.count + buffer.count / 8, 1 << 20))
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        let dot = UInt8(ascii: ".")
        var index = 0
        while index < buffer.count {
            if case .lineStart = state {
                // Fast path: a run of whole lines that decode to themselves.
                let end = cleanLinesEnd(buffer, from: index)
                if end > index {
                    emitLines(UnsafeBufferPointer(rebasing: buffer[index..<end]), &content)
                    index = end
                    continue
                }
            }
            let byte = buffer[index]
            index += 1
            switch state {
            case .lineStart:
                if byte == dot {
                    state = .dot
                } else if byte == cr {
                    state = .textCR
                } else if byte == lf {
                    emit(cr, &content)
                    emit(lf, &content)
                    endLine()
                    state = .text
                } else {
                    emit(byte, &content)
                    state = .text
                }
            case .dot:
                if byte == cr {
                    state = .dotCR
                } else if byte == lf {
                    // ". LF": the dot is alone on its line, so it stays (no unstuffing), and a bare LF is
                    // no line start: this is content, not the end.
                    emit(dot, &content)
                    emit(cr, &content)
                    emit(lf, &content)
                    endLine()
                    state = .text
                } else {
                    emit(byte, &content)  // dot-unstuffing: the leading dot is dropped
                    state = .text
                }
            case .dotCR:
                if byte == lf {
                    isComplete = true
                    return Output(content: content, consumedCount: index, isComplete: true)
                }
                // ". CR x": the line holds more than the dot, so the dot goes; the CR is still pending.
                state = .textCR
                index -= 1
            case .text:
                if byte == cr {
                    state = .textCR
                } else if byte == lf {
                    emit(cr, &content)
                    emit(lf, &content)
                    endLine()
                } else {
                    // Fast path: copy the whole run up to the next CR or LF at once.
                    var end = index
                    while end < buffer.count && buffer[end] != cr && buffer[end] != lf { end += 1 }
                    emit(run: UnsafeBufferPointer(rebasing: buffer[(index - 1)..<end]), &content)
                    index = end
                }
            case .textCR:
                if byte == lf {
                    emit(cr, &content)
                    emit(lf, &content)
                    endLine()
                    state = .lineStart
                } else if byte == cr {
                    emit(cr, &content)  // the earlier CR was bare; this one is now pending
                } else {
                    emit(cr, &content)
                    emit(byte, &content)
                    state = .text
                }
            }
        }
        return Output(content: content, consumedCount: index, isComplete: false)
    }

    @inline(__always)
    private mutating func emit(_ byte: UInt8, _ content: inout [UInt8]) {
        octetCount += 1
        lineLength += 1
        if octetCount > maximumMessageSize { isOversize = true }
        if let maximumLineLength, lineLength > maximumLineLength { hasOverlongLine = true }
        if !isOversize && !hasOverlongLine { content.append(byte) }
    }

    /// Like ``emit(_:_:)`` for several bytes of one line.
    private mutating func emit(run: UnsafeBufferPointer<UInt8>, _ content: inout [UInt8]) {
        octetCount += run.count
        lineLength += run.count
        if octetCount > maximumMessageSize { isOversize = true }
        if let maximumLineLength, lineLength > maximumLineLength { hasOverlongLine = true }
        if !isOversize && !hasOverlongLine { content.append(contentsOf: run) }
    }

    @inline(__always)
    private mutating func endLine() { lineLength = 0 }

    /// The end of the longest run of whole lines from `start` (a line start) that the state machine would
    /// copy unchanged: each begins with neither `.`, CR nor LF, holds no CR but the one right before its
    /// LF, and fits ``maximumLineLength``. `start` itself when the first line is not such a line (or is not
    /// complete in `buffer`): the byte-at-a-time path then decides.
    private func cleanLinesEnd(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = buffer.baseAddress else { return start }
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        let dot = UInt8(ascii: ".")
        var lineStart = start
        while lineStart < buffer.count {
            let first = buffer[lineStart]
            guard first != dot, first != cr, first != lf else { break }
            guard let found = memchr(base + lineStart, Int32(lf), buffer.count - lineStart) else { break }
            let lineFeed = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            // A CRLF ending, and no bare CR before it (lineFeed - 1 > lineStart: the first byte is no CR).
            guard buffer[lineFeed - 1] == cr,
                memchr(base + lineStart, Int32(cr), lineFeed - 1 - lineStart) == nil
            else { break }
            if let maximumLineLength, lineFeed + 1 - lineStart > maximumLineLength { break }
            lineStart = lineFeed + 1
        }
        return lineStart
    }

    /// Like ``emit(run:_:)`` for whole lines found by ``cleanLinesEnd(_:from:)``: ends at a line start.
    private mutating func emitLines(_ run: UnsafeBufferPointer<UInt8>, _ content: inout [UInt8]) {
        octetCount += run.count
        if octetCount > maximumMessageSize { isOversize = true }
        if !isOversize && !hasOverlongLine { content.append(contentsOf: run) }
        lineLength = 0
    }
}
