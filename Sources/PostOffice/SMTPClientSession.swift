// SMTPClientSession: drives one outbound SMTP connection — feeds the server's bytes to the sans-I/O client
// engine and carries out its actions: sending, client TLS after STARTTLS, streaming the queued body (read on
// the storage pool, never on the loop), and reporting one result per recipient for each message. After a
// message it asks its owner for the next one to the same host (connection reuse, RSET in between) and idles
// until one comes, the idle time runs out or the per-connection message limit is reached; then QUIT.

import PostOfficeCore
import PostOfficeQueue
import PostOfficeSMTP
import PostOfficeSMTPClient
import PostOfficeTLS

/// One outbound session, for one or more messages in turn. Confined to its connection's event loop.
final class SMTPClientSession: ConnectionHandler, @unchecked Sendable {
    /// What one message came to: per-recipient results, or the session's own failure (no greeting, TLS
    /// required but not offered, a lost connection before any transaction).
    struct Outcome: Sendable {
        var recipients: [SMTPRecipientResult] = []
        var message: SMTPDeliveryResult?
        var session: SMTPDeliveryResult?
        /// The server offered DSN in its EHLO reply (for NOTIFY=SUCCESS reports; issue 15).
        var remoteSupportsDSN = false
    }

    /// One message for this session: its envelope, its body, whether the content really has 8-bit octets,
    /// and who wants the outcome.
    struct Job: @unchecked Sendable {
        var message: SMTPOutboundMessage
        var body: QueueBodyReader
        var hasEightBitOctets: Bool
        /// Body read ahead of the engine's asking (off the loop): served before the reader is asked again, so
        /// a small message goes out without a round trip through the storage pool.
        var ahead = BodyBatch()
        var completion: @Sendable (Outcome) -> Void
    }

    /// Chunks of a body read in one go on the storage pool, and whether the body ended (verified) or failed.
    struct BodyBatch: Sendable {
        enum Step {
            case chunk([UInt8])
            case ended
            case failed(String)
        }

        var chunks: [[UInt8]] = []
        var isComplete = false
        var failure: String?

        /// Reads chunks from `body` until about `limit` bytes are in hand, the body ends or a read fails.
        /// Blocking: call off the loop.
        static func read(_ body: QueueBodyReader, limit: Int = 64 << 10) -> BodyBatch {
            var batch = BodyBatch()
            var total = 0
            do {
                while total < limit {
                    guard let chunk = try body.next() else {
                        batch.isComplete = true
                        break
                    }
                    total += chunk.count
                    batch.chunks.append(chunk)
                }
            } catch {
                batch.failure = "\(error)"
            }
            return batch
        }

        /// The next thing the batch holds, in order (chunks, then the end or the failure); nil: read more.
        mutating func next() -> Step? {
            if !chunks.isEmpty { return .chunk(chunks.removeFirst()) }
            if let failure {
                self.failure = nil
                return .failed(failure)
            }
            if isComplete {
                isComplete = false
                return .ended
            }
            return nil
        }
    }

    /// Reuse limits (Postfix: smtp_connection_cache_time_limit, smtp_connection_reuse_count_limit).
    struct ReusePolicy: Sendable {
        var maximumMessages = 100
        var idleSeconds = 5
    }

    private var engine: SMTPClientStateMachine
    private let tls: (verifying: TLSContext?, opportunistic: TLSContext?)
    private let serverName: String
    private let storagePool: BlockingWorkPool
    private let logSink: any LogSink
    private let reuse: ReusePolicy
    /// Offers the idle session for reuse; false: not wanted, quit.
    private let park: @Sendable (SMTPClientSession) -> Bool
    /// Takes the session out of the idle set (it closed or timed out while idle).
    private let unpark: @Sendable (SMTPClientSession) -> Void
    private var job: Job?
    private var outcome = Outcome()
    private var messagesSent = 0
    private var isIdle = false
    private weak var connection: Connection?

    init(
        configuration: SMTPClientConfiguration, first: Job, tls: (verifying: TLSContext?, opportunistic: TLSContext?),
        serverName: String, storagePool: BlockingWorkPool, logSink: any LogSink, reuse: ReusePolicy = ReusePolicy(),
        park: @escaping @Sendable (SMTPClientSession) -> Bool = { _ in false },
        unpark: @escaping @Sendable (SMTPClientSession) -> Void = { _ in }
    ) {
        engine = SMTPClientStateMachine(configuration: configuration)
        job = first
        self.tls = tls
        self.serverName = serverName
        self.storagePool = storagePool
        self.logSink = logSink
        self.reuse = reuse
        self.park = park
        self.unpark = unpark
    }

    /// Hands an idle (parked) session its next message. Call on the session's loop; false when the session
    /// can no longer take one (it closed meanwhile): the caller connects anew.
    func resume(with next: Job) -> Bool {
        guard isIdle, job == nil, let connection, !connection.isClosed, !engine.isClosed else { return false }
        isIdle = false
        job = next
        outcome = Outcome()
        startJob(connection)
        return true
    }

    /// The loop of the session's connection, for ``resume(with:)``.
    var loop: EventLoop? { connection?.loop }

    func connectionOpened(_ connection: Connection) {
        self.connection = connection
        connection.setIdleTimeout(seconds: engine.replyTimeoutSeconds ?? 300)
        perform(engine.connected(), connection)
    }

    func connection(_ connection: Connection, received bytes: [UInt8]) {
        perform(engine.receive(bytes), connection)
    }

    func connectionDrained(_ connection: Connection) {}

    func connectionTimedOut(_ connection: Connection) {
        if isIdle {
            // Nothing more came for this host in time: say goodbye.
            leaveIdle()
            perform(engine.quit(), connection)
            return
        }
        perform(engine.timedOut(), connection)
        connection.close()
    }

    func connectionShutdownRequested(_ connection: Connection) {
        // The queue keeps the message; a shutdown just ends the attempt (deferred).
        leaveIdle()
        perform(engine.connectionLost(), connection)
        connection.close()
    }

    func connectionSecured(_ connection: Connection) {
        perform(engine.tlsEstablished(), connection)
    }

    func connectionTLSFailed(_ connection: Connection, reason: String) {
        // A certificate that did not verify says why in OpenSSL's words ("unable to get local issuer
        // certificate", "hostname mismatch"); other failures carry the TLS error's own text.
        let why = connection.tlsCertificateVerificationFailure?.description ?? reason
        logSink.log(LogRecord(.warning, "outbound.tls_failed", session: connection.id, [
            ("server", connection.peer.description), ("host", serverName), ("reason", why),
        ]))
        // The queue records the reason (4.7.5) instead of a bare "connection lost".
        perform(engine.tlsFailed(why), connection)
    }

    func connectionClosed(_ connection: Connection) {
        leaveIdle()
        perform(engine.connectionLost(), connection)
        finishJob()
    }

    private func leaveIdle() {
        guard isIdle else { return }
        isIdle = false
        unpark(self)
    }

    private func perform(_ actions: [SMTPClientAction], _ connection: Connection) {
        for action in actions {
            switch action {
            case .send(let bytes):
                connection.send(bytes)
                connection.setIdleTimeout(seconds: engine.replyTimeoutSeconds ?? 300)
            case .startTLS(let verifying):
                // Only a plain-text 220 came before; the engine dropped whatever followed it.
                guard let context = verifying ? tls.verifying : (tls.opportunistic ?? tls.verifying) else {
                    perform(engine.connectionLost(), connection)
                    connection.close()
                    return
                }
                connection.startClientTLS(context: context, serverName: serverName)
            case .readContent:
                readContent(connection)
            case .recipientResult(let result):
                outcome.recipients.append(result)
            case .messageResult(let result):
                outcome.message = result
                messagesSent += 1
                finishJob()
            case .sessionFailed(let result):
                outcome.session = result
            case .readyForMessage:
                readyForMessage(connection)
            case .needsDecision(.eightBitContentWithout8BITMIME):
                // RFC 6152 §3: we do not rewrite messages into 7-bit encodings. Content that is 7-bit after all
                // (declared BODY=8BITMIME without an 8-bit octet) goes as is; real 8-bit content bounces (5.6.3).
                let eightBit = job?.hasEightBitOctets ?? true
                perform(engine.resolveEightBitContent(eightBit ? .bounce : .convertToSevenBit), connection)
            case .close:
                connection.closeAfterFlushing()
            }
        }
    }

    private func readyForMessage(_ connection: Connection) {
        if job != nil { return startJob(connection) }
        if messagesSent < reuse.maximumMessages {
            isIdle = true
            if park(self) {
                connection.setIdleTimeout(seconds: reuse.idleSeconds)
                return
            }
            isIdle = false
        }
        perform(engine.quit(), connection)
    }

    private func startJob(_ connection: Connection) {
        guard let job else { return }
        perform(engine.deliver(job.message), connection)
    }

    /// Hands the engine the next chunk of the queued body (or its end): from what was read ahead when it has
    /// some, else after reading the next batch on the storage pool (never on the loop).
    private func readContent(_ connection: Connection) {
        guard job != nil else { return }
        if let step = job?.ahead.next() {
            switch step {
            case .chunk(let chunk):
                perform(engine.contentAvailable(chunk), connection)
            case .ended:
                perform(engine.contentEnded(), connection)
            case .failed(let failure):
                logSink.log(LogRecord(.error, "outbound.body_unreadable", session: connection.id, [("error", failure)]))
                perform(engine.connectionLost(), connection)
                connection.close()
            }
            return
        }
        // The reader is used by one read at a time (the engine asks for more only after this batch is used).
        guard let body = job.map({ UncheckedSendable($0.body) }) else { return }
        storagePool.submit { [self] in
            let batch = BodyBatch.read(body.value)
            connection.loop.execute { [self] in
                guard !connection.isClosed, job != nil, job?.body === body.value else { return }
                job?.ahead = batch
                readContent(connection)
            }
        }
    }

    /// Reports the current message's outcome once (after its results, or when the connection ends).
    private func finishJob() {
        guard let finished = job else { return }
        job = nil
        var result = outcome
        // Issue 15 (reports): whether the next hop took NOTIFY along (its EHLO offered DSN).
        result.remoteSupportsDSN = engine.extensions?.dsn ?? false
        outcome = Outcome()
        finished.completion(result)
    }
}
