// Connection: one TCP connection, accepted or opened by OutboundConnector — a non-blocking socket watched by
// its EventLoop, an idle deadline and a bounded output buffer: above `outputHighWater` queued bytes it stops
// reading until the peer has taken its replies (back-pressure), so a peer that sends without reading cannot
// grow the server's memory.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeTLS

/// One client connection. All state is confined to its event loop's thread; the handler is called only there.
final class Connection: @unchecked Sendable, EventLoopHandler {
    let id: String
    /// The client: the socket's peer, or on a PROXY protocol listener the address the proxy's header named.
    private(set) var peer: SocketAddress
    let local: SocketAddress
    /// The loop that owns this connection: sessions hand work back to it (`execute`, `schedule`).
    let loop: EventLoop
    var handler: (any ConnectionHandler)?

    private let fd: Int32
    private var isRegistered = false
    private var isDescriptorClosed = false
    /// What epoll watches now; changed only when it differs, since each change is a system call.
    private var interest: EventLoop.Interest = []
    /// Why the socket is not read now; it is read only while no reason remains.
    private var readPauses: ReadPause = [.session]
    private var isReadPaused: Bool { !readPauses.isEmpty }
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeWhenFlushed = false
    private(set) var isClosed = false
    private var idleTimeoutNanoseconds: UInt64 = 300 * 1_000_000_000
    /// When the socket last moved bytes (the loop's clock). Activity only records the time; the loop's
    /// once-a-second sweep compares it with the timeout, so no timer is re-armed on every read.
    private var lastActivity: UInt64 = 0
    private let onFinish: @Sendable (Connection) -> Void
    /// The TLS layer once STARTTLS/STLS began, or from the start on an implicit-TLS listener.
    private var tls: TLSSession?
    /// True until the TLS handshake completes: the handler is not told about any bytes meanwhile.
    private var isHandshaking = false
    /// On an implicit-TLS listener the handler is opened only after the handshake.
    private var opensAfterHandshake = false
    /// "TLSv1.3 TLS_AES_256_GCM_SHA384 (256 bits)" once TLS is up; for logs and Received: headers.
    private(set) var tlsDescription: String?
    /// The error that failed the TLS handshake, for a handler that needs more than `connectionTLSFailed`'s text
    /// (an outbound client deciding whether a certificate failure allows falling back to plaintext).
    private(set) var tlsError: TLSError?
    /// Set on a PROXY protocol listener until the header has been read; nothing reaches the handler before.
    private var proxyHeaderDecoder: ProxyHeaderDecoder?
    private var proxyHeaderTimeoutSeconds = 0
    /// When a connection still without its PROXY header is closed (the loop's clock).
    private var proxyHeaderDeadline: UInt64 = 0
    /// Told once how reading the PROXY header ended.
    private var proxyHeaderCompletion: ((Connection, ProxyHeaderOutcome) -> Void)?

    /// How reading a PROXY protocol header ended.
    enum ProxyHeaderOutcome {
        /// The header; ``peer`` is already the client it names (unchanged for LOCAL and UNKNOWN).
        case received(ProxyHeader)
        /// Why there is none (invalid, timed out, closed midway); the connection closes right after.
        case failed(reason: String)
        /// The peer closed without sending a byte: a proxy's plain TCP health check, not an error.
        case closedEmpty
    }

    /// Wraps an accepted, non-blocking descriptor. `onFinish` runs once, as soon as the connection is
    /// closed.
    init(
        fd: Int32, id: String, peer: SocketAddress, local: SocketAddress, loop: EventLoop,
        onFinish: @escaping @Sendable (Connection) -> Void
    ) {
        self.fd = fd
        self.id = id
        self.peer = peer
        self.local = local
        self.loop = loop
        self.onFinish = onFinish
    }

    /// Wraps a connected, non-blocking descriptor from an outbound connect (``OutboundConnector``); the
    /// addresses come from `getpeername` and `getsockname`. The connection owns `fd` only on success.
    convenience init(
        connectedDescriptor fd: Int32, id: String, loop: EventLoop,
        onFinish: @escaping @Sendable (Connection) -> Void
    ) throws(SystemError) {
        let peer = try Self.address(of: fd, call: "getpeername", getpeername)
        let local = try Self.address(of: fd, call: "getsockname", getsockname)
        self.init(fd: fd, id: id, peer: peer, local: local, loop: loop, onFinish: onFinish)
        acknowledgesQuickly = true
    }

    private static func address(
        of fd: Int32, call: String,
        _ query: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { query(fd, $0, &length) }
        }
        guard status == 0 else { throw SystemError(call, errno: errno) }
        guard let address = SocketAddress(storage: &storage) else { throw SystemError(call, errno: EAFNOSUPPORT) }
        return address
    }

    /// Makes the connection read a PROXY protocol header (v1 or v2) before anything else, within
    /// `timeoutSeconds`. Call before `start()`. `completion` runs once on the loop: with the header (``peer``
    /// then names the real client; the completion sets ``handler`` and may call ``useImplicitTLS(context:)``,
    /// after which the handler is opened and given any bytes that followed the header), or with the reason
    /// there is none, after which the connection closes.
    func expectProxyHeader(timeoutSeconds: Int, then completion: @escaping (Connection, ProxyHeaderOutcome) -> Void) {
        proxyHeaderDecoder = ProxyHeaderDecoder()
        proxyHeaderTimeoutSeconds = timeoutSeconds
        proxyHeaderCompletion = completion
    }

    /// Hands the connection to its loop and starts reading; calls the handler's `connectionOpened` first.
    ///
    /// The loop holds the connection while it is registered; `close()` deregisters it.
    func start() {
        loop.execute { [self] in
            guard !isClosed else { return }
            touch()
            if proxyHeaderDecoder != nil {
                // The header first, on a short clock; the handler exists only once it is read.
                proxyHeaderDeadline = EventLoop.now() &+ UInt64(max(1, proxyHeaderTimeoutSeconds)) * 1_000_000_000
                resumeReading()
                return
            }
            // Registration happens with the first interest: reading, or output that had to wait.
            if opensAfterHandshake {
                resumeReading()
                return
            }
            handler?.connectionOpened(self)
            if !isClosed && !closeWhenFlushed { resumeReading() }
        }
    }

    // MARK: - Called by handlers (on the loop)

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
        if pendingOutputCount >= Self.outputHighWater { pauseReading(.output) }
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

    /// Starts TLS as the client on an outbound connection: after the server's go-ahead to STARTTLS
    /// ([RFC 3207 §4](https://www.rfc-editor.org/rfc/rfc3207#section-4)), or at once for implicit TLS
    /// ([RFC 8314 §3](https://www.rfc-editor.org/rfc/rfc8314#section-3)). Unlike a server, a client begins the
    /// handshake by writing, so the ClientHello goes out now. `serverName` is sent as SNI and checked against
    /// the certificate. The handler hears `connectionSecured`, or `connectionTLSFailed` with ``tlsError`` set.
    /// Call on the loop, after `start()`. As on the server side, the handler must drop any plaintext it holds
    /// from after the server's 220 reply: it was not protected, and could be injected
    /// ([RFC 3207 §6](https://www.rfc-editor.org/rfc/rfc3207#section-6)).
    func startClientTLS(context: TLSContext, serverName: String?) {
        guard !isClosed, tls == nil else { return }
        do throws(TLSError) {
            let session = try TLSSession(context: context, serverName: serverName)
            tls = session
            isHandshaking = true
            if case .failed(let error) = session.handshake() { throw error }
            sendRaw(session.takeNetworkOutput())
        } catch {
            tlsError = error
            handler?.connectionTLSFailed(self, reason: error.description)
            closeAfterFlushing()
        }
    }

    /// The server certificate's verification failure on a client connection, or nil when it verified (or
    /// before the handshake); set even when the context does not enforce verification.
    var tlsCertificateVerificationFailure: TLSCertificateVerificationFailure? {
        tls?.certificateVerificationFailure
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

    /// Above this many queued bytes the connection stops reading (and a driver stops feeding its engine)
    /// until the socket drains: memory per connection stays bounded whatever the client pipelines.
    static let outputHighWater = 64 * 1024

    /// True while the client keeps up with what was sent: a driver hands its engine more input only then.
    var acceptsOutput: Bool { !isClosed && pendingOutputCount < Self.outputHighWater }

    /// Reasons to stop reading; each is set and cleared by its owner, so one does not undo another.
    struct ReadPause: OptionSet, Sendable {
        let rawValue: UInt8
        /// The session waits for something (a commit, a login, a delay, a message being streamed).
        static let session = ReadPause(rawValue: 1)
        /// The driver holds input it has not yet given to its engine.
        static let backlog = ReadPause(rawValue: 2)
        /// Output above `outputHighWater` waits for a client that is not reading.
        static let output = ReadPause(rawValue: 4)
    }

    /// The server is shutting down gracefully: the session finishes what it is doing. A connection still
    /// waiting for its PROXY header has no session yet, and closes now.
    func shutdownRequested() {
        guard !isClosed else { return }
        if proxyHeaderDecoder != nil {
            finishProxyHeader(.failed(reason: "server shutting down"))
            close()
            return
        }
        handler?.connectionShutdownRequested(self)
    }

    /// Closes once everything queued has been written.
    func closeAfterFlushing() {
        guard !isClosed else { return }
        closeWhenFlushed = true
        if pendingOutputCount == 0 {
            close()
            return
        }
        pauseReading()
    }

    /// Sets the idle timeout and restarts it from now.
    func setIdleTimeout(seconds: Int) {
        idleTimeoutNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000
        touch()
    }

    /// Stops reading from the socket for `reason` (back-pressure while a slow operation runs).
    func pauseReading(_ reason: ReadPause = .session) {
        guard !isClosed, !readPauses.contains(reason) else { return }
        let wasPaused = isReadPaused
        readPauses.insert(reason)
        if !wasPaused { updateInterest() }
    }

    /// Clears `reason`; reading resumes once no other reason holds it.
    func resumeReading(_ reason: ReadPause = .session) {
        guard !isClosed, readPauses.contains(reason) else { return }
        readPauses.remove(reason)
        guard !isReadPaused, !closeWhenFlushed else { return }
        updateInterest()
    }

    /// Closes at once, dropping unsent output.
    func close() {
        guard !isClosed else { return }
        if let decoder = proxyHeaderDecoder {
            finishProxyHeader(decoder.bufferedByteCount == 0 ? .closedEmpty : .failed(reason: "closed in the middle of a PROXY header"))
        }
        isClosed = true
        if isRegistered {
            // Closing the descriptor removes it from epoll (no other process holds it: close-on-exec,
            // no fork), so only the loop's handler entry goes; that saves an epoll_ctl per connection.
            isRegistered = false
            loop.forget(fd)
        }
        if !isDescriptorClosed {
            isDescriptorClosed = true
            Glibc.close(fd)
        }
        output = []
        handler?.connectionClosed(self)
        // The session and the connection refer to each other; the loop no longer holds either.
        handler = nil
        onFinish(self)
    }

    // MARK: - EventLoopHandler (on the loop)

    func descriptorReadable() {
        guard !isClosed else { return }
        guard !isReadPaused else {
            // Only a hang-up or an error is reported while paused, and epoll keeps reporting it: stop
            // watching until reading resumes, when the read will see it. Closing now would end a session
            // in the middle of a commit or a POP3 UPDATE.
            if isRegistered {
                isRegistered = false
                interest = []
                loop.deregister(fd)
            }
            return
        }
        readAvailable()
    }

    func descriptorWritable() {
        flush()
    }

    func checkDeadline(now: UInt64) {
        guard !isClosed else { return }
        if proxyHeaderDecoder != nil {
            // The header's own deadline counts from the accept, not from the last byte: a trickle does not extend it.
            guard now >= proxyHeaderDeadline else { return }
            finishProxyHeader(.failed(reason: "no complete PROXY header within \(proxyHeaderTimeoutSeconds) s"))
            close()
            return
        }
        guard now >= lastActivity &+ idleTimeoutNanoseconds else { return }
        lastActivity = now
        if isHandshaking {
            // A client stalled mid-handshake gets no protocol reply: there is no channel for one.
            handler?.connectionTLSFailed(self, reason: "handshake timed out")
            close()
            return
        }
        if closeWhenFlushed || pendingOutputCount > 0 {
            // Replies have waited a whole timeout for a client that does not read them: another reply
            // would not be read either.
            close()
            return
        }
        handler?.connectionTimedOut(self)
    }

    // MARK: - Internals

    private func touch() {
        lastActivity = EventLoop.now()
    }

    /// Tells epoll what to wait for now: readable unless paused, writable while output waits.
    private func updateInterest() {
        guard !isClosed else { return }
        var wanted: EventLoop.Interest = []
        if !isReadPaused { wanted.insert(.readable) }
        if outputOffset < output.count { wanted.insert(.writable) }
        if !isRegistered {
            // Not yet started, or unwatched after a hang-up while paused: watch again only to read.
            guard !isDescriptorClosed, loop.isCurrent, !isReadPaused || wanted.contains(.writable) else { return }
            guard loop.register(fd, interest: wanted, handler: self) else {
                close()
                return
            }
            isRegistered = true
            interest = wanted
            return
        }
        guard wanted != interest else { return }
        interest = wanted
        loop.modify(fd, interest: wanted)
    }

    /// An outbound client acknowledges at once instead of delaying its ACKs: a server that writes its
    /// pipelined replies in separate small sends under Nagle would otherwise wait for our delayed ACK
    /// (about 40 ms) before the last reply of a group, and the client waits for that reply.
    private var acknowledgesQuickly = false

    private func readAvailable() {
        guard !isClosed else { return }
        // Into the loop's scratch buffer, then copied into an array of just the bytes read: a command line
        // costs a small allocation, not a 16 KiB one.
        let chunk = 16 * 1024
        let scratch = loop.scratch
        let result = read(fd, scratch.baseAddress, chunk)
        let failure: Int32 = result < 0 ? errno : 0
        if result < 0 && (failure == EAGAIN || failure == EINTR) { return }
        if result <= 0 {
            // 0: the peer closed; <0: reset or another error. Either way the session is over.
            close()
            return
        }
        var bytes = [UInt8](unsafeUninitializedCapacity: result) { buffer, count in
            buffer.baseAddress!.initialize(from: scratch.baseAddress!, count: result)
            count = result
        }
        touch()
        if acknowledgesQuickly {
            // Linux clears TCP_QUICKACK by itself, so it is set again after each read.
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if proxyHeaderDecoder != nil {
            guard let rest = takeProxyHeader(from: bytes), !rest.isEmpty, !isClosed else { return }
            bytes = rest
        }
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
                tlsError = error
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

    /// Feeds the PROXY header decoder; returns the bytes after a complete header (for the handler or TLS), or
    /// nil while it is incomplete or after it failed (the connection is then closed).
    private func takeProxyHeader(from bytes: [UInt8]) -> [UInt8]? {
        guard var decoder = proxyHeaderDecoder else { return bytes }
        let status = decoder.feed(bytes)
        proxyHeaderDecoder = decoder
        switch status {
        case .incomplete:
            return nil
        case .invalid(let error):
            finishProxyHeader(.failed(reason: error.description))
            close()
            return nil
        case .complete(let header, let remainder):
            if header.command == .proxy, let source = header.source {
                peer = SocketAddress(host: source.host, port: source.port)
            }
            finishProxyHeader(.received(header))
            guard !isClosed else { return nil }
            if !opensAfterHandshake {
                handler?.connectionOpened(self)
                if isClosed || closeWhenFlushed { return nil }
            }
            return remainder
        }
    }

    /// Ends the PROXY header stage and tells the completion how, once.
    private func finishProxyHeader(_ outcome: ProxyHeaderOutcome) {
        proxyHeaderDecoder = nil
        let completion = proxyHeaderCompletion
        proxyHeaderCompletion = nil
        completion?(self, outcome)
    }

    private func flush() {
        guard !isClosed else { return }
        while outputOffset < output.count {
            let n = SystemCall.restarting {
                output.withUnsafeBytes { p in
                    Glibc.send(fd, p.baseAddress! + outputOffset, p.count - outputOffset, Int32(MSG_NOSIGNAL))
                }
            }
            if n < 0 {
                if errno == EAGAIN {
                    updateInterest()
                    return
                }
                close()
                return
            }
            outputOffset += n
            if n > 0 { touch() }  // a slow reader that makes progress is not idle
        }
        output.removeAll(keepingCapacity: false)
        outputOffset = 0
        if readPauses.contains(.output) {
            readPauses.remove(.output)
            updateInterest()
        } else if interest.contains(.writable) {
            updateInterest()
        }
        if closeWhenFlushed {
            close()
            return
        }
        touch()
        handler?.connectionDrained(self)
    }
}
