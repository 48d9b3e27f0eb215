// SessionInputPump: the part every protocol driver shares — bytes read from a client wait here and go to the
// engine a command line at a time (message content in bulk), only while the driver is not suspended on
// outside work (a commit, a login, a hook, a delay) and the client takes its replies. Input still held means
// "stop reading", so a client that pipelines without reading costs one read of input and a bounded output
// queue (issue 19, D1). Framing stays the engine's: the pump only cuts after a line feed.

/// Paces client input into a sans-I/O engine. Confined to one event loop, like its session.
final class SessionInputPump {
    private var bytes: [UInt8] = []
    private var start = 0
    /// The driver waits for work outside the engine: nothing is fed until it resumes.
    var isSuspended = false
    /// `feed` is on the stack: a nested call returns and lets the outer loop go on (no deep recursion when
    /// a step completes synchronously and feeds again, as a small POP3 RETR does).
    private var isFeeding = false

    /// Bytes held.
    var count: Int { bytes.count - start }
    var isEmpty: Bool { start == bytes.count }

    /// Adds bytes just read.
    func append(_ more: [UInt8]) {
        guard !more.isEmpty else { return }
        if isEmpty {
            bytes = more
            start = 0
        } else {
            bytes.append(contentsOf: more)
        }
    }

    /// Takes the next piece: through the first line feed, or everything held when `wholeRun` is set (message
    /// content, which the engine takes in bulk) or when no line feed is held (a partial line: the engine
    /// buffers it within its own line limit).
    func next(wholeRun: Bool) -> ArraySlice<UInt8> {
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
    func removeAll() {
        bytes = []
        start = 0
    }

    /// Hands pieces to `step` while input is held, the pump is not suspended and `canContinue()` holds
    /// (the engine awaits nothing, the connection is open and takes output). `wholeRun()` says whether the
    /// engine is inside message content. Returns true when input is still held: the driver stops reading
    /// until it is used.
    @discardableResult
    func feed(wholeRun: () -> Bool, canContinue: () -> Bool, step: (ArraySlice<UInt8>) -> Void) -> Bool {
        guard !isFeeding else { return !isEmpty }
        isFeeding = true
        defer { isFeeding = false }
        while !isEmpty && !isSuspended && canContinue() {
            step(next(wholeRun: wholeRun()))
        }
        return !isEmpty
    }
}
