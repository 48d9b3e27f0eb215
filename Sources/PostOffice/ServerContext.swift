// ServerContext: the services every session of one server shares, each with one job — the I/O core
// (threads, registry), the environment (log, clock, randomness), the authenticator, the router, the message
// sinks and the delivery agent — plus the configuration, the reloadable TLS context and the shutdown flag.
// It also holds the session factories that turn an accepted socket into a session.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeAccounts
import PostOfficeCore
import PostOfficeDNS
import PostOfficeDelivery
import PostOfficeMaildir
import PostOfficeQueue
import PostOfficeSMTPClient
import PostOfficeTLS

final class ServerContext: @unchecked Sendable {
    /// The configuration in force; a reload replaces it, and each new session takes the one current then.
    var configuration: PostOfficeConfiguration { lock.withLock { current } }
    private var current: PostOfficeConfiguration
    let hooks: PostOfficeHooks
    let environment: ServerEnvironment
    let io: IOCore
    let deliveryAgent: LocalDeliveryAgent
    let authenticator: Authenticator
    let router: Router
    let sinks: MessageSinks
    let octetCache = OctetCache()
    let submissionLimiter: SubmissionRateLimiter
    /// Schedules outbound delivery; nil when `deliversOutbound` is off.
    let queueManager: QueueManager?
    /// The session factory of each service; a new service is a new entry.
    let factories: [ListenerSpec.Service: any SessionFactory] = [
        .smtp: SMTPSessionFactory(),
        .submission: SMTPSessionFactory(),
        .pop3: POP3SessionFactory(),
    ]
    private let lock = Lock()
    private var currentTLSContext: TLSContext?
    private var shuttingDown = false

    init(
        configuration: PostOfficeConfiguration, hooks: PostOfficeHooks, logSink: any LogSink, clock: any MailClock,
        random: any RandomSource, isVerbose: Bool
    ) throws {
        current = configuration
        self.hooks = hooks
        environment = ServerEnvironment(logSink: logSink, clock: clock, random: random, isVerbose: isVerbose)
        guard let layout = MailboxLayout(template: configuration.mailLocation) else {
            throw ConfigurationError(file: "configuration", line: 0, message: "mail_location '\(configuration.mailLocation)' is not a valid template")
        }
        let (users, directory) = try Self.loadAccounts(configuration)
        deliveryAgent = LocalDeliveryAgent(
            configuration: DeliveryConfiguration(
                mailRoot: configuration.mailRoot, hostname: configuration.hostname, layout: layout,
                deliversSubaddressToFolders: configuration.deliversSubaddressToFolders,
                maximumMessageSize: configuration.limits.maximumMessageSize,
                postmasterAddress: configuration.postmasterAddress),
            directory: directory, clock: clock, random: random, logSink: logSink,
            directorySyncer: GroupCommitDirectorySyncer())
        authenticator = Authenticator(users: users, hook: hooks.authenticate, limits: configuration.limits, clock: clock)
        router = Router(hooks: hooks, deliveryAgent: deliveryAgent, logSink: logSink)
        submissionLimiter = SubmissionRateLimiter(clock: clock)
        sinks = try MessageSinks(
            hooks: hooks, deliveryAgent: deliveryAgent, dataDirectory: configuration.dataDirectory,
            queue: try Self.openQueue(configuration, clock: clock, random: random, logSink: logSink), clock: clock, logSink: logSink)
        currentTLSContext = try Self.makeTLSContext(configuration)
        // Last, so a configuration error above leaves no threads behind.
        let core = try IOCore()
        io = core
        var manager: QueueManager?
        if let queue = sinks.queue {
            manager = Self.makeQueueManager(queue, configuration, io: core, environment: environment, agent: deliveryAgent)
        }
        queueManager = manager
        if let manager {
            let pool = core.storagePool
            manager.requestScan = { pool.submit { manager.scan() } }
            manager.reportQueued = hooks.reportQueued
            sinks.queued.set { manager.requestScan?() }
        }
    }

    /// Reads the users and aliases files into the user database and the delivery directory.
    static func loadAccounts(_ configuration: PostOfficeConfiguration) throws -> (UserDatabase, DeliveryDirectory) {
        let users = FileSystem.fileExists(atPath: configuration.usersFile)
            ? try UserDatabase.load(from: configuration.usersFile) : UserDatabase(file: configuration.usersFile)
        let aliases = FileSystem.fileExists(atPath: configuration.aliasesFile)
            ? try AliasTable.load(from: configuration.aliasesFile) : AliasTable(file: configuration.aliasesFile)
        // The users' own domains are local too: a user in the users file must be reachable.
        let domains = Set(configuration.domains.map { $0.lowercased() }).union(users.localDomains)
        let accounts = try AccountsDirectory(domains: domains, users: users, aliases: aliases)
        // `@domain` lines of the aliases file join `catch_all`, and win for the same domain. Several targets go
        // through an alias whose local part no address can have (a control character).
        var aliasMap = accounts.aliases
        var catchAll = configuration.catchAll
        for (domain, targets) in accounts.catchAll {
            catchAll[domain] = targets.count == 1 ? targets[0] : "\u{1}catch-all@" + domain
            if targets.count > 1 { aliasMap["\u{1}catch-all@" + domain] = targets }
        }
        let directory = DeliveryDirectory(
            localDomains: Array(accounts.domains),
            users: Array(accounts.userAddresses),
            aliases: aliasMap,
            catchAll: catchAll,
            subaddressDelimiter: configuration.subaddressDelimiter?.first)
        return (users, directory)
    }

    /// The scheduler and the SMTP transport for the queue: a relay host when configured, else MX records.
    private static func makeQueueManager(
        _ queue: QueueStore, _ configuration: PostOfficeConfiguration, io: IOCore, environment: ServerEnvironment,
        agent: LocalDeliveryAgent
    ) -> QueueManager {
        let resolver: any MailRouteResolver
        if let relay = configuration.relayHost {
            resolver = RelayhostResolver(host: OutboundHost(name: relay.host, addresses: [relay]))
        } else {
            // resolv.conf, unless dns_servers names the servers to ask.
            var dns = DNSResolverConfiguration(resolvConf: (try? AccountsFile.read("/etc/resolv.conf")) ?? "")
            if !configuration.dnsServers.isEmpty {
                // Named servers replace resolv.conf's entirely; if they do not parse, ask nobody rather than
                // fall back to servers the configuration meant to avoid.
                if let named = try? dns.overridingServers(configuration.dnsServers) {
                    dns = named
                } else if let nobody = try? DNSResolverConfiguration(servers: [], timeoutSeconds: 1, attempts: 1) {
                    dns = nobody
                }
            }
            var localNames: Set<DNSName> = []
            for name in [configuration.hostname] + configuration.domains {
                if let parsed = try? DNSName(name) { localNames.insert(parsed) }
            }
            resolver = MXResolver(
                port: configuration.smtpDestinationPort,
                transport: DNSTransport(
                    configuration: dns, random: environment.random,
                    cache: DNSCache(capacity: 10_000, clock: environment.clock)),
                localNames: localNames)
        }
        let policy: SMTPClientTLSPolicy
        switch configuration.outboundTLSPolicy {
        case "encrypt": policy = .encrypt
        case "verify": policy = .verify
        default: policy = .may
        }
        let transport = SMTPOutboundTransport(
            resolver: resolver, io: io, environment: environment,
            settings: SMTPOutboundTransport.Settings(clientName: configuration.hostname, tlsPolicy: policy))
        var settings = QueueManager.Settings()
        settings.hostname = configuration.hostname
        settings.postmaster = configuration.postmasterAddress
        settings.delayWarningTime = configuration.delayWarningSeconds
        // Reports to local senders and the postmaster go into Maildirs like `postoffice sendmail` mail.
        return QueueManager(
            store: queue, transport: transport, localDelivery: AgentQueueLocalDelivery(agent: agent),
            clock: environment.clock, random: environment.random, logSink: environment.logSink, settings: settings)
    }

    /// The outbound queue, when outbound delivery is on (`queue_directory`).
    private static func openQueue(
        _ configuration: PostOfficeConfiguration, clock: any MailClock, random: any RandomSource, logSink: any LogSink
    ) throws -> QueueStore? {
        guard configuration.deliversOutbound else { return nil }
        do {
            return try QueueStore(path: configuration.queueDirectory, clock: clock, random: random, logSink: logSink)
        } catch {
            throw ConfigurationError(file: configuration.queueDirectory, line: 0, message: "queue_directory: \(error)")
        }
    }

    private static func makeTLSContext(_ configuration: PostOfficeConfiguration) throws -> TLSContext? {
        guard let tls = configuration.tls else { return nil }
        do {
            return try TLSContext(configuration: tls)
        } catch {
            throw ConfigurationError(file: tls.certificateChainPath, line: 0, message: "TLS: \(error)")
        }
    }

    /// The TLS context for new connections (nil: TLS off). Replaced on reload; sessions keep theirs.
    var tlsContext: TLSContext? { lock.withLock { currentTLSContext } }

    /// Re-reads users, aliases and the certificate; sessions in progress keep what they had.
    func reloadAccounts() throws {
        _ = try reload(configuration)
    }

    /// Applies a new configuration to what can change while serving — domains, catch-alls, users, aliases,
    /// TLS, limits and login policy, for new sessions — and names the settings that need a restart.
    /// Nothing changes when it throws (a users file or certificate that does not load).
    func reload(_ next: PostOfficeConfiguration) throws -> ReloadReport {
        let (users, directory) = try Self.loadAccounts(next)
        let reloadedTLS = try Self.makeTLSContext(next)
        let report = ReloadReport(old: configuration, new: next)
        var applied = next
        // What needs a restart keeps its running value, so `configuration` tells what is in force.
        let running = configuration
        applied.smtpListeners = running.smtpListeners
        applied.pop3Listeners = running.pop3Listeners
        applied.smtpsListeners = running.smtpsListeners
        applied.submissionListeners = running.submissionListeners
        applied.pop3sListeners = running.pop3sListeners
        applied.dataDirectory = running.dataDirectory
        applied.mailRoot = running.mailRoot
        applied.mailLocation = running.mailLocation
        applied.hostname = running.hostname
        applied.runAsUser = running.runAsUser
        applied.postmasterAddress = running.postmasterAddress
        applied.deliversSubaddressToFolders = running.deliversSubaddressToFolders
        applied.limits.maximumMessageSize = running.limits.maximumMessageSize
        applied.limits.failedLoginsPerMinutePerAddress = running.limits.failedLoginsPerMinutePerAddress
        lock.withLock {
            current = applied
            currentTLSContext = reloadedTLS
        }
        authenticator.replaceUsers(users)
        deliveryAgent.updateDirectory(directory)
        return report
    }

    var isShuttingDown: Bool { lock.withLock { shuttingDown } }

    func beginShutdown() { lock.withLock { shuttingDown = true } }

    // MARK: - Sessions

    /// Wraps an accepted socket in a connection and the session its listener's service runs, and starts it.
    func accept(fd: Int32, peer: SocketAddress, local: SocketAddress, spec: ListenerSpec) {
        let id = environment.random.token(length: 10)
        let registry = io.registry
        let connection = Connection(fd: fd, id: id, peer: peer, local: local, loop: io.nextEventLoop()) { registry.remove($0) }
        let admission = registry.admit(connection, limits: configuration.limits)
        let tls = tlsContext
        if spec.security == .implicit {
            // Refuse before the handshake: an over-cap client must not cost a TLS key exchange, and without
            // TLS there is no channel for a protocol reply it could read.
            guard let tls, admission == .admitted else {
                if admission != .admitted {
                    environment.logSink.log(LogRecord(.warning, "\(spec.service.rawValue).refused", session: id, [
                        ("client", peer.host), ("reason", admission.refusalReason),
                    ]))
                }
                connection.close()
                return
            }
            do {
                try connection.useImplicitTLS(context: tls)
            } catch {
                environment.logSink.log(LogRecord(.error, "tls.session_failed", session: id, [("error", "\(error)")]))
                connection.close()
                return
            }
        }
        guard let factory = factories[spec.service] else {
            connection.close()
            return
        }
        connection.handler = factory.makeSession(
            context: self, connection: connection, spec: spec, admission: admission, tls: tls)
        connection.start()
    }

    /// The Maildir of a local user (not following aliases), checked: inside the mail root, no symbolic links.
    func maildir(for address: MailAddress) -> Maildir? { deliveryAgent.maildir(forAccount: address) }
}

/// POP3 octet counts computed for messages without `W=` in their names, so each file is read once.
final class OctetCache: @unchecked Sendable {
    private let lock = Lock()
    private var sizes: [String: Int] = [:]

    func octets(forKey key: String, compute: () -> Int?) -> Int? {
        if let known = lock.withLock({ sizes[key] }) { return known }
        guard let value = compute() else { return nil }
        lock.withLock {
            if sizes.count > 100_000 { sizes.removeAll() }
            sizes[key] = value
        }
        return value
    }
}
