// SMTPSession: drives one SMTP connection — feeds bytes to the sans-I/O engine and carries out its actions:
// sender and recipient decisions through the router (off the event loop when embedder hooks may block),
// streaming the body into a message sink, and the durable commit on the storage pool.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeSMTP
import PostOfficeTLS

/// Confined to its connection's event loop, which is what makes the unchecked Sendable sound.
final class SMTPSession: ConnectionHandler, @unchecked Sendable {
    private let context: ServerContext
    private let sessionID: String
    private var engine: SMTPServerStateMachine
    private let admission: ConnectionRegistry.Admission
    /// Recipients accepted in the current transaction, with where they go, in RCPT order.
    private var accepted: [(address: MailAddress, resolution: RecipientResolution)] = []
    private var reversePath: MailAddress?
    private var message: (any MessageSink)?
    private var messageCount = 0
    private var trace = WireTrace()
    private var hasGreeted = false
    /// Input not yet given to the engine; suspended while a delay, a commit or a hook is in progress.
    private let input = SessionInputPump()

    private let tlsContext: TLSContext?

    init(
        context: ServerContext, sessionID: String, admission: ConnectionRegistry.Admission,
        tls: TLSContext?, isImplicitTLS: Bool
    ) {
        self.context = context
        self.sessionID = sessionID
        self.admission = admission
        tlsContext = tls
        var configuration = SMTPServerConfiguration(hostname: context.configuration.hostname, limits: context.configuration.limits)
        configuration.greeting = "\(context.configuration.hostname) ESMTP PostOffice"
        // STARTTLS is offered only on a plaintext port with a certificate (RFC 3207 §4).
        configuration.isSTARTTLSAvailable = tls != nil && !isImplicitTLS
        engine = SMTPServerStateMachine(configuration: configuration)
        if isImplicitTLS { engine.tlsEstablished() }
    }

    func connectionOpened(_ connection: Connection) {
        context.environment.log(.info, "smtp.connect", connection, [
            "peer": connection.peer.description, "local": connection.local.description, "tls": connection.tlsDescription ?? "no",
        ])
        switch admission {
        case .admitted:
            break
        case .tooManyFromAddress, .tooManyInAll:
            // RFC 5321 §3.8: a server that cannot serve may answer 421 at once and close.
            let reply = SMTPReply(421, EnhancedStatusCode(4, 7, 0), "\(context.configuration.hostname) Too many connections, try again later")
            context.environment.log(.warning, "smtp.refused", connection, ["reason": admission.refusalReason])
            connection.send(reply.wireBytes)
            connection.closeAfterFlushing()
            return
        }
        if context.isShuttingDown {
            connection.send(SMTPReply.shuttingDown.wireBytes)
            connection.closeAfterFlushing()
            return
        }
        connection.setIdleTimeout(seconds: context.configuration.limits.smtpCommandTimeoutSeconds)
        let delay = context.configuration.limits.smtpGreetingDelayMilliseconds
        guard delay > 0 else {
            greet(connection)
            return
        }
        connection.loop.schedule(afterMilliseconds: delay) { [self] in
            guard !connection.isClosed, !engine.isClosed else { return }
            greet(connection)
        }
    }

    private func greet(_ connection: Connection) {
        hasGreeted = true
        perform(engine.start(), on: connection)
    }

    func connection(_ connection: Connection, received bytes: [UInt8]) {
        if context.environment.isVerbose { context.environment.trace(trace.clientLines(bytes), from: "client", connection) }
        guard hasGreeted else {
            context.environment.log(.warning, "smtp.early_talker", connection, ["bytes": String(bytes.count)])
            perform(engine.receiveBeforeGreeting(bytes), on: connection)
            return
        }
        input.append(bytes)
        feed(connection)
    }

    /// Hands held input to the engine a command line at a time (message content in bulk) while nothing is
    /// in progress and the client takes its replies. Input still held stops reading until it is used, so a
    /// client that pipelines without reading costs at most one read of input and a bounded output queue.
    private func feed(_ connection: Connection) {
        let held = input.feed(
            wholeRun: { engine.isReceivingMessage },
            canContinue: { !engine.isAwaitingDecision && !engine.isClosed && connection.acceptsOutput },
            step: { perform(engine.receive($0), on: connection) })
        if connection.isClosed || engine.isClosed { input.removeAll() }
        if held && !input.isEmpty {
            connection.pauseReading(.backlog)
        } else {
            connection.resumeReading(.backlog)
        }
    }

    func connectionDrained(_ connection: Connection) {
        feed(connection)
    }

    func connectionSecured(_ connection: Connection) {
        context.environment.log(.info, "smtp.tls", connection, ["tls": connection.tlsDescription ?? ""])
        // RFC 3207 §4.2: forget everything from before the handshake; the client must EHLO again.
        engine.tlsEstablished()
        connection.resumeReading()
    }

    func connectionTLSFailed(_ connection: Connection, reason: String) {
        context.environment.log(.warning, "smtp.tls_failed", connection, ["reason": reason])
    }

    func connectionTimedOut(_ connection: Connection) {
        context.environment.log(.info, "smtp.timeout", connection, ["state": engine.isReceivingMessage ? "data" : "command"])
        perform(engine.timedOut(), on: connection)
    }

    func connectionShutdownRequested(_ connection: Connection) {
        perform(engine.beginShutdown(), on: connection)
    }

    func connectionClosed(_ connection: Connection) {
        message?.abort()
        message = nil
        context.environment.log(.info, "smtp.disconnect", connection, ["messages": String(messageCount)])
    }

    // MARK: - Actions

    /// Carries out actions in order. A check's answer may release more buffered commands (pipelining),
    /// whose actions are appended and carried out in the same loop, so replies keep their order.
    private func perform(_ initial: [SMTPAction], on connection: Connection) {
        var actions = initial
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .send(let reply):
                if context.environment.isVerbose { context.environment.trace(trace.serverLines(reply.wireBytes), from: "server", connection) }
                connection.send(reply.wireBytes)
            case .delay(let milliseconds):
                // Error throttling (Postfix smtpd_error_sleep_time): stop reading, send the rest later.
                let rest = Array(actions[index...])
                connection.pauseReading()
                input.isSuspended = true
                connection.loop.schedule(afterMilliseconds: milliseconds) { [self] in
                    guard !connection.isClosed else { return }
                    input.isSuspended = false
                    connection.resumeReading()
                    perform(rest, on: connection)
                    feed(connection)
                }
                return
            case .checkSender(let sender, _):
                accepted = []
                reversePath = sender
                let request = SenderRequest(reversePath: sender, client: connection.peer, heloName: engine.heloName ?? "")
                let router = context.router
                guard router.mayBlock else {
                    actions += engine.resolveSender(router.decide(sender: request, session: sessionID))
                    continue
                }
                // An embedder's hook may block: decide on the storage pool while this session waits.
                suspend(Array(actions[index...]), connection) { [sessionID] in
                    router.decide(sender: request, session: sessionID)
                } resume: { [self] decision in
                    engine.resolveSender(decision)
                }
                return
            case .checkRecipient(let recipient, _):
                let request = RecipientRequest(
                    recipient: recipient, reversePath: reversePath, client: connection.peer, heloName: engine.heloName ?? "")
                let router = context.router
                guard router.mayBlock else {
                    actions += engine.resolveRecipient(accept(recipient, router.route(request, session: sessionID)))
                    continue
                }
                suspend(Array(actions[index...]), connection) { [sessionID] in
                    router.route(request, session: sessionID)
                } resume: { [self] route in
                    engine.resolveRecipient(accept(recipient, route))
                }
                return
            case .beginMessage(let envelope):
                connection.setIdleTimeout(seconds: context.configuration.limits.smtpDataTimeoutSeconds)
                message = openSink(envelope, connection)
            case .appendMessage(let bytes):
                message?.append(bytes)
            case .commitMessage:
                connection.setIdleTimeout(seconds: context.configuration.limits.smtpCommandTimeoutSeconds)
                guard let sink = message else {
                    actions += engine.resolveMessage(.reject(SMTPReply.temporaryFailure))
                    continue
                }
                message = nil
                // The commit waits on fsync: run it on the storage pool and carry on with the engine's
                // answer (the 250) only once it is durable. Reading goes on (most clients send nothing
                // until the 250): pipelined input waits in `input`, and holding any pauses reading.
                // Not pausing up front saves two epoll_ctl calls and a manager-thread wake-up per message.
                let rest = Array(actions[index...])
                input.isSuspended = true
                context.io.storagePool.submit { [self] in
                    let outcome = sink.commit()
                    if case .delivered = outcome {} else {
                        context.environment.logSink.log(LogRecord(.warning, "smtp.message_rejected", session: sessionID, [
                            ("client", connection.peer.host), ("code", outcome.statusCode.description), ("reason", outcome.reason),
                        ]))
                    }
                    let decision = outcome.smtpDecision
                    connection.loop.execute { [self] in
                        input.isSuspended = false
                        if case .accept = decision { messageCount += 1 }
                        perform(rest + engine.resolveMessage(decision), on: connection)
                        feed(connection)
                    }
                }
                return
            case .abortMessage:
                connection.setIdleTimeout(seconds: context.configuration.limits.smtpCommandTimeoutSeconds)
                message?.abort()
                message = nil
            case .close:
                connection.closeAfterFlushing()
            case .startTLS:
                // Whatever followed STARTTLS in the clear is discarded, never read as commands.
                input.removeAll()
                guard let tlsContext else { continue }
                // The 220 went out in the clear; from here on the socket carries the handshake.
                connection.startTLS(context: tlsContext)
            }
        }
    }

    /// Runs a decision that may block (an embedder's hook) on the storage pool with the session suspended,
    /// then hands it to the engine back on the loop and carries on with the remaining actions.
    private func suspend<Decision: Sendable>(
        _ rest: [SMTPAction], _ connection: Connection, decide: @escaping @Sendable () -> Decision,
        resume: @escaping (Decision) -> [SMTPAction]
    ) {
        input.isSuspended = true
        let resume = UncheckedSendable(resume)
        context.io.storagePool.submit { [self] in
            let decision = decide()
            connection.loop.execute { [self] in
                input.isSuspended = false
                guard !connection.isClosed else { return }
                perform(rest + resume.value(decision), on: connection)
                feed(connection)
            }
        }
    }

    /// The engine's answer to a routed recipient; local ones are remembered for the message sink.
    private func accept(_ recipient: MailAddress, _ route: Router.Route) -> SMTPDecision {
        switch route {
        case .local(let resolution):
            accepted.append((recipient, resolution))
            return .accept
        case .remote:
            // Relaying needs the outbound queue, which this build does not have yet: try again later.
            return .reject(SMTPReply(
                451, EnhancedStatusCode(4, 3, 0),
                "<\(recipient)>: Cannot relay yet: this server has no outbound queue; try again later"))
        case .rejected(let reply):
            return .reject(reply)
        }
    }

    /// Opens the message sink for the engine's envelope, with the trace facts for the Received: header.
    private func openSink(_ envelope: SMTPEnvelope, _ connection: Connection) -> any MessageSink {
        let queueID = context.sinks.makeQueueID()
        let trace = TraceInfo(
            sessionID: sessionID, queueID: queueID, heloName: envelope.heloName, clientAddress: connection.peer.host,
            // RFC 3848: ESMTPS when the session is under TLS; the TLS parameters go in the comment (RFC 8314 §4.3).
            protocolName: (envelope.isExtended ? "ESMTP" : "SMTP") + (connection.tlsDescription == nil ? "" : "S"),
            tlsDescription: connection.tlsDescription, hostname: context.configuration.hostname,
            timeZoneOffsetMinutes: context.environment.timeZoneOffsetMinutes)
        return context.sinks.open(
            envelope: MessageEnvelope(
                sessionID: sessionID, queueID: queueID, reversePath: envelope.reversePath, recipients: envelope.recipients),
            recipients: recipientsFor(envelope), trace: trace)
    }

    private func recipientsFor(_ envelope: SMTPEnvelope) -> [ResolvedRecipient] {
        envelope.recipients.compactMap { address in
            accepted.first { $0.address == address }.map { ResolvedRecipient(address: address, mailboxes: $0.resolution.mailboxes) }
        }
    }
}

/// Carries a value confined to one event loop across the storage pool and back to that loop.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
