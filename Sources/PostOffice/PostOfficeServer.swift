// PostOfficeServer: the public embedding API — start the SMTP and POP3 listeners in-process, reload
// accounts, observe deliveries, and shut down gracefully. The CLI is a thin shell over this type.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDelivery

/// A running mail server: SMTP in, Maildir, POP3 out.
///
/// ```swift
/// var configuration = PostOfficeConfiguration(dataDirectory: "/tmp/po")
/// configuration.smtpListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
/// configuration.pop3Listeners = [SocketAddress(host: "127.0.0.1", port: 0)]
/// let server = try PostOfficeServer(configuration: configuration)
/// try server.start()
/// print(server.smtpAddresses)      // the ports actually bound
/// server.shutdown()                // stop accepting, finish messages in flight, close
/// ```
public final class PostOfficeServer: Sendable {
    /// The configuration the server was started with (see ``currentConfiguration`` after a reload).
    public let configuration: PostOfficeConfiguration
    let context: ServerContext
    let state = ServerState()

    /// Creates the server and loads users and aliases. Nothing listens until ``start()``.
    /// - Throws: ``ConfigurationError`` when the users or aliases file cannot be read.
    public init(
        configuration: PostOfficeConfiguration,
        hooks: PostOfficeHooks = PostOfficeHooks(),
        logSink: any LogSink = DiscardingLogSink(),
        clock: any MailClock = SystemClock(),
        random: any RandomSource = SystemRandomSource(),
        isVerbose: Bool = false
    ) throws {
        self.configuration = configuration
        context = try ServerContext(
            configuration: configuration, hooks: hooks, logSink: logSink, clock: clock, random: random, isVerbose: isVerbose)
    }

    deinit {
        // A server dropped without `shutdown()` still lets its loop threads go (and its socket file).
        state.controlSocket?.cancel()
        context.io.stop()
    }

    /// Binds every listener and starts serving. Throws ``SystemError`` when a port cannot be bound
    /// (nothing is left listening then).
    public func start() throws {
        // Writes to a closed socket must fail with EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        context.io.registry.maximumConnections = DescriptorBudget.connectionCap(
            configured: configuration.limits.maximumConnections,
            openMaildirs: context.deliveryAgent.configuration.openMaildirLimit, logSink: context.environment.logSink)
        var started: [Listener] = []
        do {
            for spec in configuration.listenerSpecs {
                if spec.security == .implicit && context.tlsContext == nil {
                    throw ConfigurationError(
                        file: "configuration", line: 0,
                        message: "\(spec.name) listener \(spec.address) needs a TLS certificate (tls_certificate and tls_private_key)")
                }
                started.append(try makeListener(spec))
            }
        } catch {
            started.forEach { $0.cancel() }
            throw error
        }
        state.lock.withLock { state.listeners = started }
        context.io.start()
        // Clear tmp/ litter from a crash before serving; the sweep only removes files no live process
        // owns, so it runs on the storage pool beside new deliveries.
        let sweeper = TemporaryFileSweeper(
            mailRoot: context.deliveryAgent.configuration.mailRoot, hostname: configuration.hostname,
            clock: context.environment.clock, logSink: context.environment.logSink)
        context.io.storagePool.submit { sweeper.sweep() }
        started.forEach { $0.start() }
        if let manager = context.queueManager { startQueueRuns(manager) }
        startControlSocket()
        for note in configuration.deprecatedKeys {
            context.environment.logSink.log(LogRecord(.warning, "config.deprecated_key", [("where", note)]))
        }
        for listener in started {
            context.environment.logSink.log(LogRecord(.info, "server.listening", [
                ("protocol", listener.spec.name),
                ("address", listener.boundAddress.description),
            ]))
        }
    }

    /// The addresses bound for one kind of listener (with the real port when 0 was configured).
    public func boundAddresses(service: ListenerSpec.Service, security: ListenerSpec.Security? = nil) -> [SocketAddress] {
        state.lock.withLock {
            state.listeners.filter { listener in
                listener.spec.service == service
                    && (security.map { $0 == listener.spec.security } ?? (listener.spec.security != .implicit))
            }.map(\.boundAddress)
        }
    }

    /// Tries the queue now (mail waiting from before a restart included), then every `queueRunIntervalSeconds`.
    private func startQueueRuns(_ manager: QueueManager) {
        let context = self.context
        let interval = max(1, configuration.queueRunIntervalSeconds) * 1000
        let loop = context.io.eventLoops[0]
        @Sendable func run() {
            guard !context.isShuttingDown else { return }
            context.io.queueWorkPool.submit { manager.scan() }
            loop.schedule(afterMilliseconds: interval, run)
        }
        loop.execute(run)
    }

    /// Opens ``PostOfficeConfiguration/controlSocketPath``. Not fatal: without it `postoffice queue flush`
    /// falls back to editing the queue, so a failure is logged and the server runs on.
    private func startControlSocket() {
        guard let path = configuration.controlSocketPath else { return }
        var owner: (uid: UInt32, gid: UInt32)?
        if let user = configuration.runAsUser, geteuid() == 0, let entry = getpwnam(user) {
            owner = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        }
        do {
            let socket = try ControlSocket(
                path: path, owner: owner, loop: context.io.eventLoops[0], pool: context.io.storagePool,
                logSink: context.environment.logSink
            ) { [weak self] request in
                guard let self else { return ControlReply(isSuccess: false, text: "the server is stopping") }
                return self.answer(request)
            }
            state.lock.withLock { state.controlSocket = socket }
            socket.start()
        } catch {
            context.environment.logSink.log(LogRecord(.warning, "control.unavailable", [
                ("error", error.description),
                ("hint", "postoffice queue flush will edit the queue without reaching this server"),
            ]))
        }
    }

    /// Carries out one control request (on the storage pool).
    private func answer(_ request: ControlRequest) -> ControlReply {
        switch request {
        case .status:
            return ControlReply(isSuccess: true, text: "pid \(getpid()), \(connectionCount) connections, outbound delivery "
                + (context.queueManager == nil ? "off" : "on, \(context.queueManager!.activeAttempts) attempts in flight"))
        case .flush(let domain):
            guard context.queueManager != nil else {
                return ControlReply(isSuccess: false, text: "outbound delivery is off (deliver_outbound = no): no queue to flush")
            }
            flushQueue(domain: domain)
            return ControlReply(isSuccess: true, text: "queue run started for " + (domain.map { "mail to \($0)" } ?? "all waiting mail"))
        case .pickup:
            guard context.queueManager != nil else {
                return ControlReply(isSuccess: false, text: "outbound delivery is off (deliver_outbound = no): no queue to pick up from")
            }
            return ControlReply(isSuccess: true, text: pickUpQueuedMail() ? "pickup scheduled" : "pickup already pending")
        }
    }

    /// Has the queue manager look for files another process queued (the control socket's `pickup`), through
    /// the PickupThrottle: at most one pending, starts at least a second apart. False when one was pending.
    @discardableResult
    func pickUpQueuedMail() -> Bool {
        guard let manager = context.queueManager else { return false }
        let context = self.context
        let state = self.state
        let decision = state.lock.withLock { state.pickup.request(at: context.environment.clock.now()) }
        guard case .runAfter(let delay) = decision else { return false }
        context.io.eventLoops[0].schedule(afterMilliseconds: delay) {
            guard !context.isShuttingDown else { return }
            context.io.queueWorkPool.submit {
                state.lock.withLock { state.pickup.started(at: context.environment.clock.now()) }
                manager.pickUpNewFiles()
            }
        }
        return true
    }

    /// The control socket's path while it is open; nil when none (off, or it could not be made).
    public var controlSocketPath: String? { state.lock.withLock { state.controlSocket?.path } }

    /// Makes every message waiting for `domain` (or all) due now and tries them: ETRN and `postoffice queue
    /// flush`. Does nothing when outbound delivery is off.
    public func flushQueue(domain: String? = nil) {
        guard let manager = context.queueManager else { return }
        context.io.queueWorkPool.submit {
            manager.flush(domain: domain)
            manager.scan()
        }
    }

    /// The SMTP addresses bound (plain text, with or without STARTTLS).
    public var smtpAddresses: [SocketAddress] { boundAddresses(service: .smtp) }

    /// The POP3 addresses bound (plain text, with or without STLS).
    public var pop3Addresses: [SocketAddress] { boundAddresses(service: .pop3) }

    /// The submission addresses bound (RFC 6409; STARTTLS when a certificate is configured).
    public var submissionAddresses: [SocketAddress] { boundAddresses(service: .submission) }
    /// The LMTP listeners' addresses (TCP with the real port, or the Unix socket paths).
    public var lmtpAddresses: [SocketAddress] { boundAddresses(service: .lmtp) }

    /// The implicit-TLS submission addresses bound (RFC 8314 submissions, port 465 style).
    public var smtpsAddresses: [SocketAddress] { boundAddresses(service: .submission, security: .implicit) }

    /// The implicit-TLS POP3 addresses bound (pop3s).
    public var pop3sAddresses: [SocketAddress] { boundAddresses(service: .pop3, security: .implicit) }

    /// The metrics addresses bound (`metrics_listen`: `GET /metrics`, Prometheus text format).
    public var metricsAddresses: [SocketAddress] { boundAddresses(service: .metrics) }

    /// What `GET /metrics` answers now, in the Prometheus text exposition format 0.0.4: connections, messages
    /// accepted and refused, bytes, deliveries, the queue by state, reports, TLS, login failures, commit
    /// latency, memory and descriptors. Blocking (it reads the queue directory and /proc).
    public func metricsText() -> String { context.metricsExposition() }

    /// Connections currently open.
    public var connectionCount: Int { context.io.registry.count }

    /// Re-reads the users and aliases files and the certificate. Sessions in progress keep running.
    public func reloadAccounts() throws {
        try context.reloadAccounts()
        context.environment.logSink.log(LogRecord(.info, "server.reload"))
    }

    /// Applies a changed configuration (SIGHUP, `postoffice reload`): domains, catch-alls, users, aliases,
    /// TLS, limits and login policy take effect for new sessions; listeners, folders, the host name and the
    /// other settings in ``ReloadReport/needsRestart`` keep their running values until a restart. Logs one
    /// line with what changed and one per setting that waits for a restart. Nothing changes when it throws.
    @discardableResult
    public func reload(configuration next: PostOfficeConfiguration) throws -> ReloadReport {
        let report = try context.reload(next)
        let log = context.environment.logSink
        log.log(LogRecord(.info, "server.reload", [("changed", report.applied.isEmpty ? "nothing" : report.applied.joined(separator: ","))]))
        for setting in report.needsRestart {
            log.log(LogRecord(.warning, "server.reload_needs_restart", [
                ("setting", setting), ("hint", "restart postoffice for this change to take effect"),
            ]))
        }
        return report
    }

    /// The configuration in force now: the one given at start, with what reloads have applied.
    public var currentConfiguration: PostOfficeConfiguration { context.configuration }

    /// Graceful shutdown: stops accepting, lets each session finish what it is doing (a message in DATA
    /// is completed; idle sessions get 421 4.3.2), waits up to `Limits.shutdownGraceSeconds`, then closes
    /// whatever is left. Returns when every connection is closed.
    public func shutdown() {
        let listeners: [Listener] = state.lock.withLock {
            defer { state.listeners = [] }
            return state.listeners
        }
        listeners.forEach { $0.cancel() }
        let control: ControlSocket? = state.lock.withLock {
            defer { state.controlSocket = nil }
            return state.controlSocket
        }
        control?.cancel()
        context.beginShutdown()
        let registry = context.io.registry
        for connection in registry.all {
            connection.loop.execute { connection.shutdownRequested() }
        }
        let done = DispatchSemaphore(value: 0)
        registry.whenEmpty { done.signal() }
        if done.wait(timeout: .now() + .seconds(configuration.limits.shutdownGraceSeconds)) == .timedOut {
            for connection in registry.all {
                connection.loop.execute { connection.close() }
            }
            _ = done.wait(timeout: .now() + .seconds(5))
        }
        context.io.stop()
        context.environment.logSink.log(LogRecord(.info, "server.stopped"))
    }

    /// Runs `postoffice deliver` (an MDA like dovecot-lda): reads one message from `standardInput` and
    /// delivers it with the server's users, aliases and Maildir layout. `arguments` are those after
    /// `deliver`: `-f SENDER` (or `--from`), then recipients (or `-d RCPT`). Returns a sysexits code:
    /// 0 delivered, 64 usage, 65 bad data, 67 no such user, 75 temporary failure.
    public func deliver(standardInput: Int32, arguments: [String]) -> Int32 {
        DeliverCommand.run(arguments: arguments, standardInput: standardInput, agent: context.deliveryAgent)
    }

    /// The Maildir folder of a local user (not following aliases), or nil for an unsafe address.
    public func maildirPath(for address: MailAddress) -> String? {
        context.maildir(for: address)?.path
    }

    // MARK: - Listeners

    private func makeListener(_ spec: ListenerSpec) throws -> Listener {
        let context = self.context
        return try Listener(spec: spec, loop: context.io.eventLoops[0]) { fd, peer, local in
            context.accept(fd: fd, peer: peer, local: local, spec: spec)
        }
    }
}

/// Mutable server state behind one lock.
final class ServerState: @unchecked Sendable {
    let lock = Lock()
    var listeners: [Listener] = []
    var controlSocket: ControlSocket?
    /// Spaces out the control socket's `pickup` requests.
    var pickup = PickupThrottle()
}
