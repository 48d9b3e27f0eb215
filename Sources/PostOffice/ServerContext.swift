// ServerContext: what every session of one server shares — configuration, hooks, log, the delivery agent,
// the accounts and the login throttle — and the accept path that turns a socket into a session.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeAccounts
import PostOfficeCore
import PostOfficeDelivery
import PostOfficeMaildir
import PostOfficeTLS

final class ServerContext: @unchecked Sendable {
    let configuration: PostOfficeConfiguration
    let hooks: PostOfficeHooks
    let logSink: any LogSink
    let clock: any MailClock
    let random: any RandomSource
    let isVerbose: Bool
    let registry = ConnectionRegistry()
    let deliveryAgent: LocalDeliveryAgent
    let throttle: LoginThrottle
    let octetCache = OctetCache()
    /// Threads for work that waits on the disk: message commits, POP3 logins and updates.
    let storagePool: BlockingWorkPool
    /// One event loop (an epoll thread) per core; connections are spread over them round robin. Nothing
    /// that waits on the disk runs there, so these few threads serve every connection.
    let eventLoops: [EventLoop]
    private let nextLoop = Lock()
    private var loopIndex = 0
    let spoolDirectory: String
    let timeZoneOffsetMinutes: Int
    private let lock = Lock()
    private var users: UserDatabase
    private var currentTLSContext: TLSContext?
    private var shuttingDown = false

    init(
        configuration: PostOfficeConfiguration, hooks: PostOfficeHooks, logSink: any LogSink, clock: any MailClock,
        random: any RandomSource, isVerbose: Bool
    ) throws {
        self.configuration = configuration
        self.hooks = hooks
        self.logSink = logSink
        self.clock = clock
        self.random = random
        self.isVerbose = isVerbose
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        eventLoops = try (0..<max(2, cores)).map { try EventLoop(name: "po-loop-\($0)") }
        guard let layout = MailboxLayout(template: configuration.mailLocation) else {
            throw ConfigurationError(file: "configuration", line: 0, message: "mail_location '\(configuration.mailLocation)' is not a valid template")
        }
        let (users, directory) = try Self.loadAccounts(configuration)
        self.users = users
        deliveryAgent = LocalDeliveryAgent(
            configuration: DeliveryConfiguration(
                mailRoot: configuration.mailRoot, hostname: configuration.hostname, layout: layout,
                deliversSubaddressToFolders: configuration.deliversSubaddressToFolders,
                maximumMessageSize: configuration.limits.maximumMessageSize),
            directory: directory, clock: clock, random: random, logSink: logSink,
            directorySyncer: GroupCommitDirectorySyncer())
        throttle = LoginThrottle(limit: configuration.limits.failedLoginsPerMinutePerAddress, clock: clock)
        if let tls = configuration.tls {
            do {
                currentTLSContext = try TLSContext(configuration: tls)
            } catch {
                throw ConfigurationError(file: tls.certificateChainPath, line: 0, message: "TLS: \(error)")
            }
        }
        spoolDirectory = configuration.dataDirectory + "/spool"
        if hooks.deliver != nil {
            try FileSystem.createDirectory(atPath: configuration.dataDirectory + "/spool")
        }
        var now = time_t(clock.now().seconds)
        var parts = tm()
        localtime_r(&now, &parts)
        timeZoneOffsetMinutes = Int(parts.tm_gmtoff) / 60
        // Last, so a configuration error above leaves no threads behind.
        storagePool = try BlockingWorkPool(threads: 16, name: "po-storage")
    }

    // The pool's threads keep the pool alive; stopping them lets a discarded server free it.
    deinit { storagePool.stop() }

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

    /// The TLS context for new connections (nil: TLS off). Replaced on reload; sessions keep theirs.
    var tlsContext: TLSContext? { lock.withLock { currentTLSContext } }

    func reloadAccounts() throws {
        let (users, directory) = try Self.loadAccounts(configuration)
        var reloadedTLS: TLSContext?
        if let tls = configuration.tls {
            do {
                reloadedTLS = try TLSContext(configuration: tls)
            } catch {
                throw ConfigurationError(file: tls.certificateChainPath, line: 0, message: "TLS: \(error)")
            }
        }
        lock.withLock {
            self.users = users
            if let reloadedTLS { currentTLSContext = reloadedTLS }
        }
        deliveryAgent.updateDirectory(directory)
    }

    var isShuttingDown: Bool { lock.withLock { shuttingDown } }

    func beginShutdown() { lock.withLock { shuttingDown = true } }

    // MARK: - Sessions

    /// Wraps an accepted socket in a connection and a protocol session, and starts it.
    func accept(fd: Int32, peer: SocketAddress, local: SocketAddress, kind: ListenerKind) {
        let id = random.token(length: 10)
        let registry = self.registry
        let connection = Connection(fd: fd, id: id, peer: peer, local: local, loop: nextEventLoop()) { registry.remove($0) }
        let admission = registry.admit(connection, limits: configuration.limits)
        let tls = tlsContext
        if kind.isImplicitTLS {
            guard let tls else {
                connection.close()
                return
            }
            do {
                try connection.useImplicitTLS(context: tls)
            } catch {
                logSink.log(LogRecord(.error, "tls.session_failed", session: id, [("error", "\(error)")]))
                connection.close()
                return
            }
        }
        switch kind {
        case .smtp, .smtps:
            connection.handler = SMTPSession(
                context: self, sessionID: id, admission: admission,
                tls: tls, isImplicitTLS: kind.isImplicitTLS)
        case .pop3, .pop3s:
            connection.handler = POP3Session(
                context: self, sessionID: id, admission: admission, isLoopback: peer.isLoopback,
                tls: tls, isImplicitTLS: kind.isImplicitTLS)
        }
        connection.start()
    }

    /// What a listener serves.
    enum ListenerKind: Sendable {
        case smtp, pop3, smtps, pop3s
        var isImplicitTLS: Bool { self == .smtps || self == .pop3s }
        var name: String {
            switch self {
            case .smtp: "smtp"
            case .pop3: "pop3"
            case .smtps: "smtps"
            case .pop3s: "pop3s"
            }
        }
    }

    /// Starts the event loops' threads (once, when the server starts).
    func startEventLoops() {
        eventLoops.forEach { $0.start() }
    }

    /// Stops the event loops' threads once the connections are gone.
    func stopEventLoops() {
        eventLoops.forEach { $0.shutdown() }
    }

    private func nextEventLoop() -> EventLoop {
        nextLoop.withLock {
            loopIndex = (loopIndex + 1) % eventLoops.count
            return eventLoops[loopIndex]
        }
    }

    /// Logs one event of a session.
    func log(_ level: LogRecord.Level, _ event: String, _ connection: Connection, _ fields: KeyValuePairs<String, String> = [:]) {
        logSink.log(LogRecord(level, event, session: connection.id, fields.map { ($0.key, $0.value) }))
    }

    /// Logs protocol trace lines (`--verbose`).
    func trace(_ lines: [String], from side: String, _ connection: Connection) {
        for line in lines {
            logSink.log(LogRecord(.debug, "wire", session: connection.id, [(side == "client" ? "C" : "S", line)]))
        }
    }

    // MARK: - Accounts

    /// Checks a login: the hook if there is one, else the users file. Returns the mailbox address.
    func authenticate(login: String, password: String, client: SocketAddress) -> MailAddress? {
        if let hook = hooks.authenticate {
            return hook(LoginRequest(login: login, password: password, client: client))
        }
        let database = lock.withLock { users }
        return database.authenticate(login: login, password: password)?.address
    }

    /// The Maildir of a local user (not following aliases).
    func maildir(for address: MailAddress) -> Maildir? {
        let local = address.localPart.lowercased()
        let domain = address.normalizedDomain
        guard MailboxPathRules.isSafeLocalPart(local), MailboxPathRules.isSafeDomain(domain) else { return nil }
        let relative = deliveryAgent.configuration.layout.relativePath(localPart: local, domain: domain)
        return Maildir(path: deliveryAgent.configuration.mailRoot + "/" + relative)
    }
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
