// SMTPClientSession: drives one outbound SMTP connection — feeds the server's bytes to the sans-I/O client
// engine and carries out its actions: sending, client TLS after STARTTLS, streaming the queued body (read on
// the storage pool, never on the loop), and reporting one result per recipient when the session ends.

import PostOfficeCore
import PostOfficeQueue
import PostOfficeSMTP
import PostOfficeSMTPClient
import PostOfficeTLS

/// One outbound session for one message. Confined to its connection's event loop.
final class SMTPClientSession: ConnectionHandler, @unchecked Sendable {
    /// What the session came to: per-recipient results, or the session's own failure (no greeting, TLS
    /// required but not offered, a lost connection before any transaction).
    struct Outcome: Sendable {
        var recipients: [SMTPRecipientResult] = []
        var message: SMTPDeliveryResult?
        var session: SMTPDeliveryResult?
        /// The server offered DSN in its EHLO reply (for NOTIFY=SUCCESS reports; issue 15).
        var remoteSupportsDSN = false
    }

    private var engine: SMTPClientStateMachine
    private let message: SMTPOutboundMessage
    private let body: QueueBodyReader
    private let tls: (verifying: TLSContext?, opportunistic: TLSContext?)
    private let serverName: String
    private let storagePool: BlockingWorkPool
    private let logSink: any LogSink
    private var outcome = Outcome()
    private var hasDelivered = false
    private var isFinished = false
    private let completion: @Sendable (Outcome) -> Void

    init(
        configuration: SMTPClientConfiguration, message: SMTPOutboundMessage, body: QueueBodyReader,
        tls: (verifying: TLSContext?, opportunistic: TLSContext?), serverName: String, storagePool: BlockingWorkPool,
        logSink: any LogSink, completion: @escaping @Sendable (Outcome) -> Void
    ) {
        engine = SMTPClientStateMachine(configuration: configuration)
        self.message = message
        self.body = body
        self.tls = tls
        self.serverName = serverName
        self.storagePool = storagePool
        self.logSink = logSink
        self.completion = completion
    }

    func connectionOpened(_ connection: Connection) {
        connection.setIdleTimeout(seconds: engine.replyTimeoutSeconds ?? 300)
        perform(engine.connected(), connection)
    }

    func connection(_ connection: Connection, received bytes: [UInt8]) {
        perform(engine.receive(bytes), connection)
    }

    func connectionDrained(_ connection: Connection) {}

    func connectionTimedOut(_ connection: Connection) {
        perform(engine.timedOut(), connection)
        connection.close()
    }

    func connectionShutdownRequested(_ connection: Connection) {
        // The queue keeps the message; a shutdown just ends the attempt (deferred).
        perform(engine.connectionLost(), connection)
        connection.close()
    }

    func connectionSecured(_ connection: Connection) {
        perform(engine.tlsEstablished(), connection)
    }

    func connectionTLSFailed(_ connection: Connection, reason: String) {
        logSink.log(LogRecord(.warning, "outbound.tls_failed", session: connection.id, [
            ("server", connection.peer.description), ("reason", reason),
        ]))
    }

    func connectionClosed(_ connection: Connection) {
        perform(engine.connectionLost(), connection)
        finish()
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
            case .sessionFailed(let result):
                outcome.session = result
            case .readyForMessage:
                if hasDelivered {
                    perform(engine.quit(), connection)
                } else {
                    hasDelivered = true
                    perform(engine.deliver(message), connection)
                }
            case .needsDecision(.eightBitContentWithout8BITMIME):
                // We do not rewrite messages into 7-bit encodings: the recipient's server cannot take it as is.
                perform(engine.resolveEightBitContent(.bounce), connection)
            case .close:
                connection.closeAfterFlushing()
            }
        }
    }

    /// Reads the next chunk of the queued body on the storage pool and hands it to the engine on the loop.
    private func readContent(_ connection: Connection) {
        // The reader is used by one read at a time (the engine asks for the next chunk only after this one).
        let body = UncheckedSendable(self.body)
        storagePool.submit { [self] in
            let chunk: [UInt8]?
            let failure: String?
            do {
                chunk = try body.value.next()
                failure = nil
            } catch {
                chunk = nil
                failure = "\(error)"
            }
            connection.loop.execute { [self] in
                guard !connection.isClosed else { return }
                if let failure {
                    logSink.log(LogRecord(.error, "outbound.body_unreadable", session: connection.id, [("error", failure)]))
                    perform(engine.connectionLost(), connection)
                    connection.close()
                    return
                }
                if let chunk {
                    perform(engine.contentAvailable(chunk), connection)
                } else {
                    perform(engine.contentEnded(), connection)
                }
            }
        }
    }

    private func finish() {
        guard !isFinished else { return }
        isFinished = true
        outcome.remoteSupportsDSN = engine.extensions?.dsn ?? false
        completion(outcome)
    }
}
