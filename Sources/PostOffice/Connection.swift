// Connection: one accepted TCP connection — non-blocking socket, Dispatch read/write sources, an idle timer
// and an output buffer with back-pressure. It moves bytes between the socket and a ConnectionHandler.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeTLS

/// One client connection. All state is confined to `queue`; the handler is called only there.
final class Connection: @unchecked Sendable {
    let id: String
    let peer: SocketAddress
    let local: SocketAddress
    let queue: DispatchQueue
    var handler: (any ConnectionHandler)?

    private let fd: Int32
    private let readSource: any DispatchSourceRead
    /// Made on the first write that would block: most sessions never fill the socket buffer, and each
    /// source costs an epoll registration on open and close.
    private var writeSource: (any DispatchSourceWrite)?
    private let timer: any DispatchSourceTimer
    /// Sources start suspended; the read source is resumed in `start()`.
    private var isReadSuspended = true
    private var isWriteActive = false
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeWhenFlushed = false
    private(set) var isClosed = false
    private var idleTimeout: DispatchTimeInterval = .seconds(300)
    private var pendingCancels = 2
    private let onFinish: @Sendable (Connection) -> Void
    /// The TLS layer once STARTTLS/STLS began, or from the start on an implicit-TLS listener.
    private var tls: TLSSession?
    /// True until the TLS handshake completes: the handler is not told about any bytes meanwhile.
    private var isHandshaking = false
    /// On an implicit-TLS listener the handler is opened only after the handshake.
    private var opensAfterHandshake = false
    /// "TLSv1.3 TLS_AES_256_GCM_SHA384 (256 bits)" once TLS is up; for logs and Received: headers.
    private(set) var tlsDescription: String?

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
        timer = DispatchSource.makeTimerSource(queue: queue)
    }

    /// Starts reading; calls the handler's `connectionOpened` first.
    ///
    /// The sources' handlers hold the connection strongly: the cycle keeps it alive while the socket is
    /// open and is broken when `close()` cancels the sources (Dispatch then releases their handlers).
    func start() {
        readSource.setEventHandler { self.readAvailable() }
        timer.setEventHandler {
            guard !self.isClosed else { return }
            if self.isHandshaking {
                // A client stalled mid-handshake gets no protocol reply: there is no channel for one.
                self.handler?.connectionTLSFailed(self, reason: "handshake timed out")
                self.close()
                return
            }
            self.handler?.connectionTimedOut(self)
        }
        let finish: @Sendable () -> Void = { self.sourceCancelled() }
        readSource.setCancelHandler(handler: finish)
        timer.setCancelHandler(handler: finish)
        queue.async {
            self.timer.schedule(deadline: .now() + self.idleTimeout)
            self.timer.resume()
            if self.opensAfterHandshake {
                self.isReadSuspended = false
                self.readSource.resume()
                return
            }
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
        if let tls, !isHandshaking {
            do {
                try tls.writePlaintext(bytes)
            } catch {
                handler?.connectionTLSFailed(self, reason: error.description)
                close()
                return
            }
            sendRaw(tls.takeNetworkOutput())
            return
        }
        sendRaw(bytes)
    }

    /// Queues bytes for the socket as they are (ciphertext under TLS).
    private func sendRaw(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        if output.isEmpty {
            output = bytes
            outputOffset = 0
        } else {
            output.append(contentsOf: bytes)
        }
        flush()
    }

    /// Switches to TLS: everything read from now on is a TLS handshake, then TLS records. Call it right
    /// after queueing the plaintext "go ahead" reply (220 / +OK), which still goes out in the clear.
    /// The handler hears `connectionSecured` when the handshake completes, or `connectionTLSFailed`.
    func startTLS(context: TLSContext) {
        guard !isClosed, tls == nil else { return }
        do {
            tls = try TLSSession(context: context)
            isHandshaking = true
        } catch {
            handler?.connectionTLSFailed(self, reason: error.description)
            closeAfterFlushing()
        }
    }

    /// Makes this an implicit-TLS connection (SMTPS 465, POP3S 995): the handshake comes first and the
    /// handler's `connectionOpened` only after it. Call before `start()`.
    func useImplicitTLS(context: TLSContext) throws {
        tls = try TLSSession(context: context)
        isHandshaking = true
        opensAfterHandshake = true
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
        if let writeSource {
            if !isWriteActive { writeSource.resume() }
            isWriteActive = true
        }
        readSource.cancel()
        writeSource?.cancel()
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
        guard let tls else {
            handler?.connection(self, received: bytes)
            return
        }
        tls.receiveFromNetwork(bytes)
        if isHandshaking {
            switch tls.handshake() {
            case .incomplete:
                sendRaw(tls.takeNetworkOutput())
                return
            case .failed(let error):
                sendRaw(tls.takeNetworkOutput())  // the alert, if any
                handler?.connectionTLSFailed(self, reason: error.description)
                closeAfterFlushing()
                return
            case .complete:
                isHandshaking = false
                sendRaw(tls.takeNetworkOutput())
                tlsDescription = [tls.protocolVersion, tls.cipherName, tls.cipherBits.map { "(\($0) bits)" }]
                    .compactMap { $0 }.joined(separator: " ")
                if opensAfterHandshake {
                    opensAfterHandshake = false
                    handler?.connectionOpened(self)
                } else {
                    handler?.connectionSecured(self)
                }
            }
        }
        var plaintext: [UInt8] = []
        while !isClosed {
            do {
                switch try tls.readPlaintext(into: &plaintext) {
                case .bytes:
                    continue
                case .wantMore:
                    break
                case .closed:
                    if !plaintext.isEmpty { handler?.connection(self, received: plaintext) }
                    close()
                    return
                }
            } catch {
                handler?.connectionTLSFailed(self, reason: error.description)
                close()
                return
            }
            break
        }
        sendRaw(tls.takeNetworkOutput())
        if !plaintext.isEmpty && !isClosed { handler?.connection(self, received: plaintext) }
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
                        writableSource().resume()
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
        if isWriteActive, let writeSource {
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

    /// The write source, made (suspended) on first need; its cancellation is counted like the others'.
    private func writableSource() -> any DispatchSourceWrite {
        if let writeSource { return writeSource }
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { self.flush() }
        source.setCancelHandler { self.sourceCancelled() }
        pendingCancels += 1
        writeSource = source
        return source
    }

    private func sourceCancelled() {
        pendingCancels -= 1
        if pendingCancels == 0 {
            Glibc.close(fd)
            handler = nil
        }
    }
}
