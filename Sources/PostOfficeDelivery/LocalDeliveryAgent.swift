// LocalDeliveryAgent: the entry point of local delivery, shared by the SMTP session driver and
// `postoffice deliver` — resolves recipients against a reloadable directory and opens delivery transactions.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore
import PostOfficeMaildir

/// Delivers messages into local Maildirs. Thread-safe: one agent serves every session.
///
/// ```swift
/// let agent = LocalDeliveryAgent(configuration: config, directory: directory, clock: SystemClock())
/// guard case .local(let boxes) = agent.resolve(rcpt) else { ... }
/// let tx = try agent.beginTransaction(reversePath: from, recipients: [ResolvedRecipient(address: rcpt, mailboxes: boxes)], trace: trace)
/// try tx.append(chunk)   // as DATA arrives
/// let result = tx.commit()
/// ```
public final class LocalDeliveryAgent: Sendable {
    public let configuration: DeliveryConfiguration
    let clock: any MailClock
    let random: any RandomSource
    let logSink: any LogSink
    let directorySyncer: any DirectorySyncer
    let names: MaildirUniqueNameGenerator
    /// Maildirs kept open between deliveries; nil when ``DeliveryConfiguration/openMaildirLimit`` is 0.
    let openMaildirs: MaildirHandleCache?
    private let resolverState: ResolverState

    /// - Parameters:
    ///   - directorySyncer: how `new/` directories are fsync'd; the default syncs at once.
    ///   - processID: for Maildir unique names; the default is this process.
    public init(
        configuration: DeliveryConfiguration,
        directory: DeliveryDirectory,
        clock: any MailClock = SystemClock(),
        random: any RandomSource = SystemRandomSource(),
        logSink: any LogSink = DiscardingLogSink(),
        directorySyncer: any DirectorySyncer = ImmediateDirectorySyncer(),
        processID: Int32 = getpid()
    ) {
        self.configuration = configuration
        self.clock = clock
        self.random = random
        self.logSink = logSink
        self.directorySyncer = directorySyncer
        self.names = MaildirUniqueNameGenerator(hostname: configuration.hostname, processID: processID, clock: clock)
        self.openMaildirs = configuration.openMaildirLimit > 0 ? MaildirHandleCache(capacity: configuration.openMaildirLimit) : nil
        self.resolverState = ResolverState(Self.makeResolver(configuration: configuration, directory: directory))
    }

    private static func makeResolver(configuration: DeliveryConfiguration, directory: DeliveryDirectory) -> RecipientResolver {
        RecipientResolver(
            directory: directory,
            mailRoot: configuration.mailRoot,
            layout: configuration.layout,
            deliversSubaddressToFolders: configuration.deliversSubaddressToFolders,
            maximumAliasDepth: configuration.maximumAliasDepth,
            hostname: configuration.hostname,
            postmasterAddress: configuration.postmasterAddress
        )
    }

    /// The current directory.
    public var directory: DeliveryDirectory { resolverState.current.directory }

    /// Replaces the directory (on SIGHUP). Resolutions already made keep their mailboxes.
    public func updateDirectory(_ directory: DeliveryDirectory) {
        resolverState.replace(Self.makeResolver(configuration: configuration, directory: directory))
    }

    /// Resolves a recipient with the current directory.
    public func resolve(_ address: MailAddress) -> RecipientResolution {
        resolverState.current.resolve(address)
    }

    /// Resolves a recipient and returns the alias targets outside the local domains too
    /// (``RecipientResolver/resolveForwarding(_:)``).
    public func resolveForwarding(_ address: MailAddress) -> (resolution: RecipientResolution, remote: [MailAddress]) {
        resolverState.current.resolveForwarding(address)
    }

    /// The Maildir of a local account (not following aliases) for reading it, checked like every path
    /// delivery writes: lexically inside the mail root and with no symbolic link below it
    /// (``RecipientResolver/checkedMaildir(forAccount:)``). Nil when unsafe. The one path function for POP3.
    public func maildir(forAccount account: MailAddress) -> Maildir? {
        resolverState.current.checkedMaildir(forAccount: account)
    }

    /// A new queue id: 12 hex digits of the injected random source.
    public func makeQueueID() -> String {
        random.token(length: 12).uppercased()
    }

    /// Opens a transaction for recipients already resolved (at RCPT time).
    ///
    /// Recipients without mailboxes are reported as failed (5.1.1) in the result and take no part.
    /// - Throws: ``DeliveryError`` 5.1.1 when no recipient has a mailbox; a temporary error when the first
    ///   mailbox cannot be created or opened.
    public func beginTransaction(
        reversePath: MailAddress?, recipients: [ResolvedRecipient], trace: TraceInfo
    ) throws(DeliveryError) -> DeliveryTransaction {
        try DeliveryTransaction(agent: self, reversePath: reversePath, recipients: recipients, trace: trace)
    }

    /// Resolves and opens a transaction in one step (for `postoffice deliver`).
    /// - Throws: ``DeliveryError`` with the resolution's code for the first recipient that is not local.
    public func beginTransaction(
        reversePath: MailAddress?, recipients: [MailAddress], trace: TraceInfo
    ) throws(DeliveryError) -> DeliveryTransaction {
        var resolved: [ResolvedRecipient] = []
        for address in recipients {
            let resolution = resolve(address)
            guard case .local(let mailboxes) = resolution else {
                throw DeliveryError(resolution.statusCode, "\(resolution.reason): \(LogRecord.escape(address.description))")
            }
            resolved.append(ResolvedRecipient(address: address, mailboxes: mailboxes))
        }
        return try beginTransaction(reversePath: reversePath, recipients: resolved, trace: trace)
    }
}

/// The resolver behind a lock, so ``LocalDeliveryAgent/updateDirectory(_:)`` can swap it while sessions resolve.
private final class ResolverState: @unchecked Sendable {
    private let lock = Lock()
    private var resolver: RecipientResolver

    init(_ resolver: RecipientResolver) { self.resolver = resolver }

    var current: RecipientResolver { lock.withLock { resolver } }

    func replace(_ newResolver: RecipientResolver) { lock.withLock { resolver = newResolver } }
}
