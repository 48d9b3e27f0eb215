// HeaderBlockCollector: gathers the header block of a message arriving on standard input (bounded, 1 MiB by
// default) and says where the body starts, so the headers can be rewritten and the body streamed untouched.

import PostOfficeCore

/// Collects the header block of a streamed message: the lines up to the first empty line.
///
/// Lenient like sendmail: a first line `From ` (an mbox separator) is dropped; a line that is neither a
/// field nor a continuation ends the block, and the body then needs an empty line put before it
/// (``Split/needsSeparator``); a message without an empty line is all headers.
public struct HeaderBlockCollector: Sendable {
    /// What the block turned out to be.
    public struct Split: Hashable, Sendable {
        /// The header lines, without the empty line.
        public var header: [UInt8]
        /// What came after the header lines: the empty line and the body's first bytes, as read so far.
        public var rest: [UInt8]
        /// True when the body began without an empty line, so one must be put between header and body.
        public var needsSeparator: Bool
    }

    /// The most bytes the header block may take.
    public let limit: Int
    private var pending: [UInt8] = []
    /// Where the next unexamined line starts in `pending`.
    private var lineStart = 0
    private var isFirstLine = true
    private var sawField = false

    public init(limit: Int = 1 << 20) {
        self.limit = limit
    }

    /// Adds bytes. Returns the split once the block is complete; nil while more are needed.
    /// - Throws: 5.3.4 when the block grows past ``limit`` (EX_DATAERR for sendmail).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError) -> Split? {
        pending.append(contentsOf: bytes)
        while let newline = pending[lineStart...].firstIndex(of: 0x0A) {
            if let split = try examine(lineEnd: newline + 1) { return split }
        }
        // A line still incomplete counts too: the block's bound is on what is held.
        if pending.count > limit { throw tooBig }
        return nil
    }

    /// The end of input: whatever is pending is the block (a last line that is not a field is the body).
    /// - Throws: 5.3.4 when the block is larger than ``limit``.
    public mutating func finish() throws(DeliveryError) -> Split {
        if lineStart < pending.count, let split = try examine(lineEnd: pending.count) { return split }
        return Split(header: pending, rest: [], needsSeparator: false)
    }

    private var tooBig: DeliveryError {
        DeliveryError(EnhancedStatusCode(5, 3, 4), "Header block larger than \(limit / 1024) KiB")
    }

    /// Looks at the line `pending[lineStart..<lineEnd]`; returns the split when it ends the block.
    private mutating func examine(lineEnd: Int) throws(DeliveryError) -> Split? {
        let line = pending[lineStart..<lineEnd]
        defer { isFirstLine = false }
        if isFirstLine && line.starts(with: "From ".utf8) {
            pending.removeSubrange(lineStart..<lineEnd)
            return nil
        }
        let isEmpty = line.elementsEqual([0x0A]) || line.elementsEqual([0x0D, 0x0A]) || line.elementsEqual([0x0D])
        let isContinuation = sawField && (line.first == 0x20 || line.first == 0x09)
        if !isEmpty && (isContinuation || SendmailHeaders.fieldName(line) != nil) {
            guard lineEnd <= limit else { throw tooBig }
            sawField = true
            lineStart = lineEnd
            return nil
        }
        let header = Array(pending[..<lineStart])
        let rest = Array(pending[lineStart...])
        pending = []
        return Split(header: header, rest: rest, needsSeparator: !isEmpty)
    }
}
