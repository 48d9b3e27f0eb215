// Connection: one accepted TCP connection — non-blocking socket, Dispatch read/write sources, an idle timer
// and an output buffer with back-pressure. It moves bytes between the socket and a ConnectionHandler.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// One client connection. All state is confined to `queue`; the handler is called only there.
final class Connection: @unchecked Sendable {
    let id: String
    let peer: SocketAddress
    let local: SocketAddress
    let queue: DispatchQueue
    var handler: (any ConnectionHandler)?

    private let fd: Int32
    private let readSource: any DispatchSourceRead
    private let writeSource: any DispatchSourceWrite
    private let timer: any DispatchSourceTimer
    /// Sources start suspended; the read source is resumed in `start()`.
    private var isReadSuspended = true
    private var isWriteActive = false
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeWhenFlushed = false
    private(set) var isClosed = false
    private var idleTimeout: DispatchTimeInterval = .seconds(300)
    private var pendingCancels = 3
    private let onFinish: @Sendable (Connection) -> Void

    /// Wraps an accepted, non-blocking descriptor. `onFinish` runs once, as soon as the connection is
    /// closed (the descriptor itself is closed a moment later, when Dispatch has let go of it).
    init(
        fd: Int32, id: String, peer: SocketAddress, local: SocketAddress, target: DispatchQueue?,
        onFinish: @escaping @Sendable (Connection) -> Void
    ) {
        self.fd = fd
        self.id = id
        self.peer = peer
        self.local = local
        self.onFinish = onFinish
        queue = DispatchQueue(label: "postoffice.connection", target: target)
        readSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        writeSource = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        timer = DispatchSource.makeTimerSource(queue: queue)
    }

    /// Starts reading; calls the handler's `connectionOpened` first.
    ///
    /// The sources' handlers hold the connection strongly: the cycle keeps it alive while the socket is
    /// open and is broken when `close()` cancels the sources (Dispatch then releases their handlers).
    func start() {
        readSource.setEventHandler { self.readAvailable() }
        writeSource.setEventHandler { self.flush() }
        timer.setEventHandler {
            guard !self.isClosed else { return }
            self.handler?.connectionTimedOut(self)
        }
        let finish: @Sendable () -> Void = { self.sourceCancelled() }
        readSource.setCancelHandler(handler: finish)
        writeSource.setCancelHandler(handler: finish)
        timer.setCancelHandler(handler: finish)
        queue.async {
            self.timer.schedule(deadline: .now() + self.idleTimeout)
            self.timer.resume()
            self.handler?.connectionOpened(self)
            if !self.isClosed && !self.closeWhenFlushed {
                self.isReadSuspended = false
                self.readSource.resume()
            }
        }
    }

    // MARK: - Called by handlers (on `queue`)

    /// Queues bytes for sending and writes as much as the socket takes now.
    func send(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        if output.isEmpty {
            output = bytes
            outputOffset = 0
        } else {
            output.append(contentsOf: bytes)
        }
        flush()
    }

    /// Bytes queued and not yet written.
    var pendingOutputCount: Int { output.count - outputOffset }

    /// Closes once everything queued has been written.
    func closeAfterFlushing() {
        guard !isClosed else { return }
        closeWhenFlushed = true
        pauseReading()
        if pendingOutputCount == 0 { close() }
    }

    /// Sets the idle timeout and restarts the timer.
    func setIdleTimeout(seconds: Int) {
        idleTimeout = .seconds(seconds)
        touch()
    }

    /// Stops reading from the socket (back-pressure while a slow operation runs).
    func pauseReading() {
        guard !isClosed, !isReadSuspended else { return }
        isReadSuspended = true
        readSource.suspend()
    }

    /// Resumes reading.
    func resumeReading() {
        guard !isClosed, isReadSuspended, !closeWhenFlushed else { return }
        isReadSuspended = false
        readSource.resume()
    }

    /// Closes at once, dropping unsent output.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        // Cancel every source; the descriptor is closed when the last cancel handler has run, since a
        // source must never watch a descriptor number that the kernel may already have reused.
        if isReadSuspended {
            isReadSuspended = false
            readSource.resume()
        }
        if !isWriteActive { writeSource.resume() }
        isWriteActive = true
        readSource.cancel()
        writeSource.cancel()
        timer.cancel()
        output = []
        handler?.connectionClosed(self)
        // Release the connection's place in the per-client count now, not when the descriptor closes:
        // a client that reconnects right after QUIT must not find its old session still counted.
        onFinish(self)
    }

    // MARK: - Internals

    private func touch() {
        guard !isClosed else { return }
        timer.schedule(deadline: .now() + idleTimeout)
    }

    private func readAvailable() {
        guard !isClosed else { return }
        let chunk = 16 * 1024
        var result = 0
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: chunk) { buffer, count in
            result = read(fd, buffer.baseAddress, chunk)
            failure = result < 0 ? errno : 0
            count = max(result, 0)
        }
        if result < 0 && (failure == EAGAIN || failure == EINTR) { return }
        if result <= 0 {
            // 0: the peer closed; <0: reset or another error. Either way the session is over.
            close()
            return
        }
        touch()
        handler?.connection(self, received: bytes)
    }

    private func flush() {
        guard !isClosed else { return }
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { p in
                Glibc.send(fd, p.baseAddress! + outputOffset, p.count - outputOffset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    if !isWriteActive {
                        isWriteActive = true
                        writeSource.resume()
                    }
                    return
                }
                close()
                return
            }
            outputOffset += n
        }
        output.removeAll(keepingCapacity: false)
        outputOffset = 0
        if isWriteActive {
            isWriteActive = false
            writeSource.suspend()
        }
        if closeWhenFlushed {
            close()
            return
        }
        touch()
        handler?.connectionDrained(self)
    }

    private func sourceCancelled() {
        pendingCancels -= 1
        if pendingCancels == 0 {
            Glibc.close(fd)
            handler = nil
        }
    }
}
