// PacedInput: bytes read from a client that the driver has not yet handed to its protocol engine.
// Drivers feed their engine one command line at a time, and only while the client keeps up with the replies,
// so a client that pipelines without reading leaves at most one read's worth of input here and a bounded
// amount of output queued (issue 19, D1). Framing stays the engine's: this only cuts after a line feed.

/// A FIFO of unread client bytes that yields them a line (or, for message content, a run) at a time.
struct PacedInput {
    private var bytes: [UInt8] = []
    private var start = 0

    /// Bytes held.
    var count: Int { bytes.count - start }
    var isEmpty: Bool { start == bytes.count }

    /// Adds bytes just read.
    mutating func append(_ more: [UInt8]) {
        guard !more.isEmpty else { return }
        if isEmpty {
            bytes = more
            start = 0
        } else {
            bytes.append(contentsOf: more)
        }
    }

    /// Takes the next piece for the engine: through the first line feed, or everything held when
    /// `wholeRun` is set (message content, which the engine takes in bulk) or when no line feed is held
    /// (a partial line: the engine buffers it within its own line limit).
    mutating func next(wholeRun: Bool) -> ArraySlice<UInt8> {
        var end = bytes.count
        if !wholeRun, let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) { end = newline + 1 }
        let piece = bytes[start..<end]
        start = end
        if start == bytes.count {
            // The next read's array is adopted as it is (see append), so nothing is kept here.
            bytes = []
            start = 0
        }
        return piece
    }

    /// Drops everything held: after STARTTLS/STLS, bytes sent in the clear before the handshake must never
    /// be read as commands (RFC 3207 §4.2, RFC 2595 §4; the CVE-2011-0411 class of injection).
    mutating func removeAll() {
        bytes = []
        start = 0
    }
}
