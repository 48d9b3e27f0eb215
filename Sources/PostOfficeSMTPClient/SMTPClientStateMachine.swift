// SMTPClientStateMachine: the sans-I/O SMTP client session. Server bytes and driver events in, actions out.
// This file holds the state, the events and the reply dispatch; +Session has greeting/EHLO/TLS/AUTH,
// +Transaction has MAIL/RCPT/DATA/BDAT and the per-recipient results.

import PostOfficeCore
import PostOfficeSASL
import PostOfficeSMTP

/// One SMTP client session ([RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)) as a state machine, mirroring
/// the server engine's shape: the driver calls ``connected()``, passes every read to ``receive(_:)`` and
/// carries out the returned ``SMTPClientAction``s in order.
///
/// The session runs greeting, EHLO (HELO on 500/502), STARTTLS per ``SMTPClientTLSPolicy`` and AUTH, then
/// says ``SMTPClientAction/readyForMessage``. Each ``deliver(_:)`` runs one transaction (pipelined when the
/// server offers PIPELINING), asks for content with ``SMTPClientAction/readContent`` and reports one
/// ``SMTPClientAction/recipientResult(_:)`` per recipient, then ``SMTPClientAction/messageResult(_:)``, then
/// ``SMTPClientAction/readyForMessage`` again for connection reuse. Every result comes from
/// ``SMTPErrorClassification``.
///
/// ```swift
/// var engine = SMTPClientStateMachine(configuration: configuration)
/// perform(engine.connected())
/// while let bytes = read(timeout: engine.replyTimeoutSeconds) { perform(engine.receive(bytes)) }
/// // perform: send/close/startTLS, readContent → contentAvailable/contentEnded, readyForMessage → deliver/quit
/// ```
public struct SMTPClientStateMachine: Sendable {
    /// The session's settings.
    public let configuration: SMTPClientConfiguration
    /// What the server offered in its last EHLO reply (empty after HELO); nil before.
    public internal(set) var extensions: SMTPServerExtensions?
    /// The TLS handshake after STARTTLS completed.
    public internal(set) var isTLSActive = false
    /// AUTH succeeded.
    public internal(set) var isAuthenticated = false

    /// The reply each command sent is waiting for, oldest first (RFC 2920: replies come in command order).
    enum Expectation: Hashable, Sendable {
        case greeting, ehlo, helo, startTLS, auth, reset, mail, data, endOfData, quit
        case recipient(Int)
        case chunk(isLast: Bool)

        var stage: SMTPClientStage {
            switch self {
            case .greeting: .greeting
            case .ehlo, .helo: .hello
            case .startTLS: .startTLS
            case .auth: .authentication
            case .reset: .reset
            case .mail: .mail
            case .recipient: .recipient
            case .data: .data
            case .endOfData, .chunk: .messageContent
            case .quit: .quit
            }
        }
    }

    enum Phase: Sendable {
        case notConnected
        /// Greeting, EHLO, STARTTLS, AUTH: replies expected.
        case session
        /// Waiting for the driver's TLS handshake.
        case tlsHandshake
        /// Idle: waiting for deliver or quit.
        case ready
        /// Paused on a decision about this message.
        case deciding(SMTPOutboundMessage)
        /// A transaction's replies are expected.
        case transaction
        /// Waiting for the driver's content (DATA streaming, or the next BDAT chunk).
        case content
        case quitting
        case closed
    }

    var parser: SMTPReplyParser
    var expected: [Expectation] = []
    var phase = Phase.notConnected
    var transaction: Transaction?
    var sasl: SASLClientExchange?
    /// A transaction was opened at the server and not completed: RSET before the next MAIL.
    var needsReset = false

    public init(configuration: SMTPClientConfiguration) {
        self.configuration = configuration
        parser = SMTPReplyParser(maximumLineLength: configuration.maximumReplyLineLength)
    }

    // MARK: State for the driver

    /// The session has ended; the driver closes after flushing.
    public var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// How long to wait for the server's next reply, in seconds
    /// ([RFC 5321 §4.5.3.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.2)); nil when no reply is due
    /// (the engine waits for the driver). Call ``timedOut()`` when it runs out.
    public var replyTimeoutSeconds: Int? {
        guard !isClosed, let next = expected.first else { return nil }
        switch next {
        case .data: return 120  // DATA initiation: 2 minutes
        case .endOfData, .chunk: return 600  // DATA termination: 10 minutes
        default: return 300  // greeting, MAIL, RCPT and the rest: 5 minutes
        }
    }

    /// Where the session stands, for results of events that are not replies.
    var currentStage: SMTPClientStage {
        if let next = expected.first { return next.stage }
        switch phase {
        case .tlsHandshake: return .startTLS
        case .content: return .messageContent
        case .deciding: return .mail
        case .quitting: return .quit
        case .notConnected, .session, .ready, .transaction, .closed: return .connection
        }
    }

    // MARK: Events from the driver

    /// The TCP connection is open: the engine waits for the greeting.
    public mutating func connected() -> [SMTPClientAction] {
        guard case .notConnected = phase else { return [] }
        phase = .session
        expected = [.greeting]
        return []
    }

    /// Bytes read from the server, in any splits.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [SMTPClientAction] {
        var out: [SMTPClientAction] = []
        switch phase {
        case .notConnected, .closed, .tlsHandshake: return []
        default: break
        }
        parser.append(bytes)
        // Stop at a phase change that makes buffered bytes meaningless (STARTTLS's 220, closing).
        while !isClosed, !isAwaitingTLS {
            let reply: SMTPReply
            do throws(SMTPReplyParserError) {
                guard let next = try parser.nextReply() else { break }
                reply = next
            } catch {
                abandon(.protocolViolation("invalid reply from the server: \(error)"), sendsQuit: false, &out)
                break
            }
            handle(reply, &out)
        }
        return out
    }

    /// The connection closed or failed (a failed TLS handshake included): results for what was in flight.
    public mutating func connectionLost() -> [SMTPClientAction] {
        var out: [SMTPClientAction] = []
        switch phase {
        case .closed, .notConnected: return []
        case .quitting: close(&out)
        default: abandon(.connectionLost, sendsQuit: false, &out)
        }
        return out
    }

    /// The server was silent longer than ``replyTimeoutSeconds``: everything in flight is deferred.
    public mutating func timedOut() -> [SMTPClientAction] {
        var out: [SMTPClientAction] = []
        switch phase {
        case .closed, .notConnected: return []
        case .quitting: close(&out)
        default: abandon(.timedOut, sendsQuit: false, &out)
        }
        return out
    }

    /// Ends the session politely (QUIT) when it is idle.
    public mutating func quit() -> [SMTPClientAction] {
        guard case .ready = phase else { return [] }
        var out: [SMTPClientAction] = []
        phase = .quitting
        send(.quit, expecting: .quit, &out)
        return out
    }

    // MARK: Reply dispatch

    var isAwaitingTLS: Bool {
        if case .tlsHandshake = phase { return true }
        return false
    }

    private mutating func handle(_ reply: SMTPReply, _ out: inout [SMTPClientAction]) {
        guard !expected.isEmpty else {
            // Nothing asked for it: a server going away (421 at any time, RFC 5321 §3.8) or a broken one.
            if case .quitting = phase { return close(&out) }
            let cause: SMTPFailureCause =
                reply.code == 421 ? .reply(reply) : .protocolViolation("unexpected reply: \(reply)")
            return abandon(cause, sendsQuit: reply.code != 421, &out)
        }
        let expectation = expected.removeFirst()
        // 421: the server closes after this reply (RFC 5321 §3.8); later pipelined replies will not come.
        if reply.code == 421 && expectation != .quit {
            return abandon(.reply(reply), at: expectation.stage, sendsQuit: false, &out)
        }
        switch expectation {
        case .greeting: greeting(reply, &out)
        case .ehlo: extendedHello(reply, &out)
        case .helo: hello(reply, &out)
        case .startTLS: startTLSReply(reply, &out)
        case .auth: authReply(reply, &out)
        case .quit: close(&out)
        case .reset, .mail, .recipient, .data, .endOfData, .chunk: transactionReply(reply, to: expectation, &out)
        }
    }

    // MARK: Helpers

    mutating func send(_ command: SMTPCommand, expecting expectation: Expectation, _ out: inout [SMTPClientAction]) {
        out.append(.send(command.wireBytes))
        expected.append(expectation)
    }

    /// The session cannot go on: results for the message in flight, then for the rest of the queue.
    mutating func abandon(
        _ cause: SMTPFailureCause, at stage: SMTPClientStage? = nil, sendsQuit: Bool, _ out: inout [SMTPClientAction]
    ) {
        let stage = stage ?? currentStage
        if transaction != nil { finishTransaction(interruption: (cause, stage), &out) }
        out.append(.sessionFailed(classify(cause, at: stage)))
        if sendsQuit { out.append(.send(SMTPCommand.quit.wireBytes)) }
        close(&out)
    }

    mutating func close(_ out: inout [SMTPClientAction]) {
        guard !isClosed else { return }
        phase = .closed
        expected = []
        transaction = nil
        sasl = nil
        out.append(.close)
    }

    func classify(_ cause: SMTPFailureCause, at stage: SMTPClientStage) -> SMTPDeliveryResult {
        SMTPErrorClassification.result(of: cause, at: stage, isFinalHost: configuration.isFinalHost)
    }
}
