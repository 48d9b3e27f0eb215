// ServerContext: the services every session of one server shares, each with one job — the I/O core
// (threads, registry), the environment (log, clock, randomness), the authenticator, the router, the message
// sinks and the delivery agent — plus the configuration, the reloadable TLS context and the shutdown flag.
// It also holds the session factories that turn an accepted socket into a session.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeAccounts
import PostOfficeCore
import PostOfficeDSN
import PostOfficeDNS
import PostOfficeDelivery
import PostOfficeMaildir
import PostOfficeQueue
import PostOfficeSMTPClient
import PostOfficeSPF
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
    /// SPF, DKIM and DMARC for inbound mail; nil when `mail_authentication` was off at start.
    let mailAuthenticator: MailAuthenticator?
    /// Where messages being checked are held once they outgrow memory.
    let authenticationSpoolDirectory: String
    /// The DKIM signing keys (`dkim_key_directory`), replaced on reload; signs mail we send.
    let dkimKeys: DKIMKeyStore
    /// Schedules outbound delivery; nil when `deliversOutbound` is off.
    let queueManager: QueueManager?
    /// Holds sessions back while the queue's backlog is above its threshold (`in_flow_delay`); nil without
    /// the queue manager. Sessions use it only while their `in_flow_delay` is above 0.
    let inflowGate: InflowGate?
    /// What sessions and the queue count, served at `GET /metrics` (`metrics_listen`).
    let metrics = ServerMetrics()
    /// transport_maps, relay host, TLS level and relay credentials, replaced on reload; nil without outbound.
    let outboundRouting: OutboundRouting?
    /// The session factory of each service; a new service is a new entry.
    let factories: [ListenerSpec.Service: any SessionFactory] = [
        .smtp: SMTPSessionFactory(),
        .submission: SMTPSessionFactory(),
        .pop3: POP3SessionFactory(),
        .metrics: MetricsSessionFactory(),
        .lmtp: SMTPSessionFactory(),
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
        var delivery = DeliveryConfiguration(
            mailRoot: configuration.mailRoot, hostname: configuration.hostname, layout: layout,
            deliversSubaddressToFolders: configuration.deliversSubaddressToFolders,
            maximumMessageSize: configuration.limits.maximumMessageSize,
            postmasterAddress: configuration.postmasterAddress, quota: configuration.quota,
            quotaFullIsTemporary: configuration.quotaFullIsTemporary,
            quotaWarningPercent: configuration.quotaWarningPercent)
        delivery.openMaildirLimit = DescriptorBudget.openMaildirLimit()
        deliveryAgent = LocalDeliveryAgent(
            configuration: delivery,
            directory: directory, clock: clock, random: random, logSink: logSink,
            directorySyncer: GroupCommitDirectorySyncer())
        authenticator = Authenticator(users: users, hook: hooks.authenticate, limits: configuration.limits, clock: clock)
        router = Router(hooks: hooks, deliveryAgent: deliveryAgent, logSink: logSink)
        submissionLimiter = SubmissionRateLimiter(clock: clock)
        dkimKeys = DKIMKeyStore(keys: try DKIMKeyStore.load(directory: configuration.dkimKeyDirectory), clock: clock, logSink: logSink)
        sinks = try MessageSinks(
            hooks: hooks, deliveryAgent: deliveryAgent, dataDirectory: configuration.dataDirectory,
            queue: try Self.openQueue(configuration, clock: clock, random: random, logSink: logSink), clock: clock, logSink: logSink,
            spoolsForLMTP: !configuration.lmtpListeners.isEmpty,
            localReports: LocalReportSender(
                agent: deliveryAgent, composer: DSNComposer(hostname: configuration.hostname),
                policy: DSNPolicy(
                    postmaster: configuration.postmasterAddress ?? MailAddress(localPart: "postmaster", domain: configuration.hostname),
                    delayWarningTime: nil),
                review: ReportReview(hook: hooks.checkReport, logSink: logSink), reportQueued: hooks.reportQueued,
                clock: clock, random: random, logSink: logSink))
        currentTLSContext = try Self.makeTLSContext(configuration)
        // transport_maps and the credentials file are read now: a bad line or a readable password file
        // refuses the start.
        let routingSettings = configuration.deliversOutbound ? try OutboundRouting.Settings(configuration) : nil
        authenticationSpoolDirectory = configuration.dataDirectory + "/spool"
        if configuration.mailAuthentication {
            try FileSystem.createDirectory(atPath: authenticationSpoolDirectory)
            MailAuthenticationSink.removeStaleSpoolFiles(in: authenticationSpoolDirectory, now: clock.now().seconds)
            mailAuthenticator = Self.makeMailAuthenticator(configuration, environment: environment)
        } else {
            mailAuthenticator = nil
        }
        // Last, so a configuration error above leaves no threads behind.
        let core = try IOCore(queue: sinks.queue != nil && routingSettings != nil)
        io = core
        var manager: QueueManager?
        var routing: OutboundRouting?
        if let queue = sinks.queue, let routingSettings {
            let made = Self.makeQueueManager(
                queue, configuration, routing: routingSettings, io: core, environment: environment, agent: deliveryAgent,
                metrics: metrics, signer: dkimKeys)
            (manager, routing) = (made.manager, made.routing)
        }
        queueManager = manager
        outboundRouting = routing
        inflowGate = manager.map { _ in InflowGate(clock: clock) }
        if let manager, let gate = inflowGate {
            manager.backlogChanged = { backlog, started in gate.update(backlog, started: started) }
            let pool = core.queueWorkPool
            manager.requestScan = { pool.submit { manager.scan() } }
            manager.reportQueued = hooks.reportQueued
            manager.checkReport = hooks.checkReport
            manager.offload = { work in pool.submit(work) }
            // A commit asks for it on a storage-pool thread before its 250 goes out: the pass runs on that
            // thread once the commit's job has handed the 250 to the event loop (no wake-up of another thread).
            manager.requestNewMailScan = {
                let pass: @Sendable () -> Void = { manager.scanNewMail() }
                if !BlockingWorkPool.runAfterCurrentJob(pass) { pool.submit(pass) }
            }
            sinks.queued.set { commit in
                if let commit { manager.committed(commit) }
                manager.requestNewMailScan?()
            }
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
        var directory = DeliveryDirectory(
            localDomains: Array(accounts.domains),
            users: Array(accounts.userAddresses),
            aliases: aliasMap,
            catchAll: catchAll,
            subaddressDelimiter: configuration.subaddressDelimiter?.first)
        // Per-user quota rules (Dovecot's `userdb_quota_rule`) on top of `quota` / `quota_messages`.
        for account in users.users {
            if let quota = account.quota(startingFrom: configuration.quota) { directory.setQuota(quota, forUser: account.name) }
        }
        return (users, directory)
    }

    /// The scheduler and the SMTP transport for the queue, routed by transport_maps, a relay host or MX records.
    private static func makeQueueManager(
        _ queue: QueueStore, _ configuration: PostOfficeConfiguration, routing routingSettings: OutboundRouting.Settings,
        io: IOCore, environment: ServerEnvironment, agent: LocalDeliveryAgent, metrics: ServerMetrics,
        signer: any OutgoingMessageSigner
    ) -> (manager: QueueManager, routing: OutboundRouting) {
        let dns = dnsConfiguration(configuration)
        var localNames: Set<DNSName> = []
        for name in [configuration.hostname] + configuration.domains {
            if let parsed = try? DNSName(name) { localNames.insert(parsed) }
        }
        let routing = OutboundRouting(
            settings: routingSettings,
            dns: DNSTransport(
                configuration: dns, random: environment.random, cache: DNSCache(capacity: 10_000, clock: environment.clock)),
            localNames: localNames)
        let localDelivery = AgentQueueLocalDelivery(agent: agent)
        let transport = SMTPOutboundTransport(
            routing: routing, localDelivery: localDelivery, io: io, environment: environment,
            settings: SMTPOutboundTransport.Settings(clientName: configuration.hostname))
        var settings = QueueManager.Settings()
        settings.hostname = configuration.hostname
        settings.postmaster = configuration.postmasterAddress
        settings.signer = signer
        settings.delayWarningTime = configuration.delayWarningSeconds
        settings.schedule.maximalQueueLifetime = configuration.maximalQueueLifetimeSeconds
        settings.schedule.bounceQueueLifetime = configuration.bounceQueueLifetimeSeconds
        // Reports to local senders and the postmaster go into Maildirs like `postoffice sendmail` mail.
        let manager = QueueManager(
            store: queue, transport: transport, localDelivery: localDelivery,
            clock: environment.clock, random: environment.random, logSink: environment.logSink, settings: settings,
            metrics: metrics)
        return (manager, routing)
    }

    /// The resolver settings: resolv.conf, unless dns_servers names the servers to ask.
    static func dnsConfiguration(_ configuration: PostOfficeConfiguration) -> DNSResolverConfiguration {
        var dns = DNSResolverConfiguration(resolvConf: (try? AccountsFile.read("/etc/resolv.conf")) ?? "")
        if !configuration.dnsServers.isEmpty {
            // Named servers replace resolv.conf's entirely. The configuration file refuses entries that do not
            // parse; one set through the API that does not parse leaves only 127.0.0.1 (glibc's default
            // with no nameserver), never the resolv.conf servers the configuration meant to avoid.
            if let named = try? dns.overridingServers(configuration.dnsServers) {
                dns = named
            } else {
                dns = DNSResolverConfiguration(servers: [], timeoutSeconds: 1, attempts: 1)
            }
        }
        return dns
    }

    /// The inbound checks with their own DNS cache and the Public Suffix List (without the file, every
    /// domain's Organizational Domain is its last two labels, and the log says so).
    private static func makeMailAuthenticator(
        _ configuration: PostOfficeConfiguration, environment: ServerEnvironment
    ) -> MailAuthenticator {
        let list: PublicSuffixList
        if let text = try? AccountsFile.read(configuration.publicSuffixListPath) {
            list = PublicSuffixList(parsing: text)
        } else {
            environment.logSink.log(LogRecord(.warning, "mail_authentication.no_public_suffix_list", [
                ("path", configuration.publicSuffixListPath),
                ("effect", "DMARC takes the last two labels as the Organizational Domain; install publicsuffix or set public_suffix_list"),
            ]))
            list = PublicSuffixList(rules: [])
        }
        let transport = DNSTransport(
            configuration: dnsConfiguration(configuration), random: environment.random,
            cache: DNSCache(capacity: 10_000, clock: environment.clock))
        return MailAuthenticator(transport: transport, publicSuffixList: list, random: environment.random)
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
        // Per-user quotas build on the quota in force, which a reload does not change.
        var accountsConfiguration = next
        accountsConfiguration.quota = configuration.quota
        let (users, directory) = try Self.loadAccounts(accountsConfiguration)
        let reloadedTLS = try Self.makeTLSContext(next)
        let routingSettings = outboundRouting == nil ? nil : try OutboundRouting.Settings(next)
        let reloadedKeys = try DKIMKeyStore.load(directory: next.dkimKeyDirectory)
        let report = ReloadReport(old: configuration, new: next)
        var applied = next
        // What needs a restart keeps its running value, so `configuration` tells what is in force.
        let running = configuration
        applied.smtpListeners = running.smtpListeners
        applied.pop3Listeners = running.pop3Listeners
        applied.smtpsListeners = running.smtpsListeners
        applied.submissionListeners = running.submissionListeners
        applied.pop3sListeners = running.pop3sListeners
        applied.metricsListeners = running.metricsListeners
        applied.proxyProtocolListeners = running.proxyProtocolListeners
        applied.lmtpListeners = running.lmtpListeners
        applied.dataDirectory = running.dataDirectory
        applied.mailRoot = running.mailRoot
        applied.mailLocation = running.mailLocation
        applied.hostname = running.hostname
        applied.runAsUser = running.runAsUser
        applied.postmasterAddress = running.postmasterAddress
        applied.quota = running.quota
        applied.quotaFullIsTemporary = running.quotaFullIsTemporary
        applied.quotaWarningPercent = running.quotaWarningPercent
        applied.deliversSubaddressToFolders = running.deliversSubaddressToFolders
        applied.limits.maximumMessageSize = running.limits.maximumMessageSize
        applied.limits.failedLoginsPerMinutePerAddress = running.limits.failedLoginsPerMinutePerAddress
        lock.withLock {
            current = applied
            currentTLSContext = reloadedTLS
        }
        authenticator.replaceUsers(users)
        deliveryAgent.updateDirectory(directory)
        if let routingSettings { outboundRouting?.replace(routingSettings) }
        dkimKeys.replace(reloadedKeys)
        return report
    }

    var isShuttingDown: Bool { lock.withLock { shuttingDown } }

    func beginShutdown() { lock.withLock { shuttingDown = true } }

    // MARK: - Sessions

    /// Wraps an accepted socket in a connection and the session its listener's service runs, and starts it.
    /// On a PROXY protocol listener the session is made only once the header has named the client.
    func accept(fd: Int32, peer: SocketAddress, local: SocketAddress, spec: ListenerSpec) {
        let id = environment.random.token(length: 10)
        let registry = io.registry
        let connection = Connection(fd: fd, id: id, peer: peer, local: local, loop: io.nextEventLoop()) { registry.remove($0) }
        metrics.connectionAccepted(listener: spec.name)
        let settings = configuration
        guard spec.expectsProxyHeader else {
            let admission = registry.admit(connection, limits: settings.limits)
            if attachSession(to: connection, spec: spec, admission: admission) { connection.start() }
            return
        }
        // The socket's peer is the proxy: only the global cap applies until the header names the client.
        let overall = registry.admit(connection, limits: settings.limits, countsAddress: false)
        connection.expectProxyHeader(timeoutSeconds: settings.proxyHeaderTimeoutSeconds) { [self] connection, outcome in
            switch outcome {
            case .closedEmpty:
                environment.logSink.log(LogRecord(.info, "proxy.closed_empty", session: id, [
                    ("service", spec.name), ("proxy", peer.description),
                ]))
            case .failed(let reason):
                environment.logSink.log(LogRecord(.warning, "proxy.refused", session: id, [
                    ("service", spec.name), ("proxy", peer.description), ("reason", reason),
                ]))
            case .received(let header):
                environment.logSink.log(LogRecord(.info, "proxy.header", session: id, [
                    ("service", spec.name), ("client", connection.peer.description), ("proxy", peer.description),
                    ("version", String(header.version.rawValue)), ("command", header.command == .local ? "LOCAL" : "PROXY"),
                ]))
                let perClient = registry.admitAddress(connection, limits: settings.limits)
                _ = attachSession(to: connection, spec: spec, admission: overall == .admitted ? perClient : overall)
            }
        }
        connection.start()
    }

    /// Gives a connection the session of its listener's service (after the implicit-TLS set-up); false when
    /// the connection was closed instead.
    private func attachSession(to connection: Connection, spec: ListenerSpec, admission: ConnectionRegistry.Admission) -> Bool {
        let tls = tlsContext
        if spec.security == .implicit {
            // Refuse before the handshake: an over-cap client must not cost a TLS key exchange, and without
            // TLS there is no channel for a protocol reply it could read.
            guard let tls, admission == .admitted else {
                if admission != .admitted {
                    environment.logSink.log(LogRecord(.warning, "\(spec.service.rawValue).refused", session: connection.id, [
                        ("client", connection.peer.host), ("reason", admission.refusalReason),
                    ]))
                }
                connection.close()
                return false
            }
            do {
                try connection.useImplicitTLS(context: tls)
            } catch {
                environment.logSink.log(LogRecord(.error, "tls.session_failed", session: connection.id, [("error", "\(error)")]))
                connection.close()
                return false
            }
        }
        guard let factory = factories[spec.service] else {
            connection.close()
            return false
        }
        connection.handler = factory.makeSession(
            context: self, connection: connection, spec: spec, admission: admission, tls: tls)
        return true
    }

    /// The Maildir of a local user (not following aliases), checked: inside the mail root, no symbolic links.
    func maildir(for address: MailAddress) -> Maildir? { deliveryAgent.maildir(forAccount: address) }
}

/// POP3 octet counts computed for messages without `W=` in their names, so each file is read once.
final class OctetCache: @unchecked Sendable {
    /// Most sizes kept (over every Maildir); past it the cache starts empty again.
    static let capacity = 100_000
    private let lock = Lock()
    /// Maildir path → base name → octets: a login looks its names up in its own table, taken once.
    private var sizes: [String: [String: Int]] = [:]
    private var count = 0

    /// The sizes known for the Maildir at `path` (a copy: the caller reads it without the lock).
    func sizes(inMaildir path: String) -> [String: Int] {
        lock.withLock { sizes[path] ?? [:] }
    }

    /// Keeps the sizes a login counted for the Maildir at `path`.
    func record(_ counted: [String: Int], inMaildir path: String) {
        guard !counted.isEmpty else { return }
        lock.withLock {
            if count + counted.count > Self.capacity {
                sizes.removeAll()
                count = 0
            }
            sizes[path, default: [:]].merge(counted) { _, new in new }
            count += counted.count
        }
    }
}
