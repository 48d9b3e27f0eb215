// SMTPSession: drives one SMTP or LMTP connection — feeds bytes to the sans-I/O engine and carries out its
// actions: sender and recipient decisions through the router (off the event loop when embedder hooks may
// block), streaming the body into a message sink, and the durable commit on the storage pool (LMTP: one
// outcome per recipient). While the outbound queue has a backlog, a transaction's first queued recipient
// waits at the InflowGate (`in_flow_delay`) before its reply.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDelivery
import PostOfficeMaildir
import PostOfficeQueue
import PostOfficeSMTP
import PostOfficeSPF
import PostOfficeTLS

/// Confined to its connection's event loop, which is what makes the unchecked Sendable sound.
final class SMTPSession: ConnectionHandler, @unchecked Sendable {
    private let context: ServerContext
    private let sessionID: String
    private var engine: SMTPServerStateMachine
    private let admission: ConnectionRegistry.Admission
    /// Recipients accepted in the current transaction, with where they go, in RCPT order.
    private var accepted: [(address: MailAddress, resolution: RecipientResolution)] = []
    /// Recipients accepted for other domains in the current transaction (forwarded through the queue).
    private var remote: [MailAddress] = []
    /// Local aliases accepted in this transaction and their targets in other domains (forwarded by the queue).
    private var forwarded: [MailAddress: [MailAddress]] = [:]
    private var reversePath: MailAddress?
    /// MAIL FROM's `SIZE=` (RFC 1870), for the quota check at RCPT.
    private var declaredSize: Int?
    private var message: (any MessageSink)?
    private var messageCount = 0
    /// Bytes read and not yet added to the server's metrics: reported once per message and at the end,
    /// not on every read (each report takes the metrics lock and hashes the listener name).
    private var unreportedBytes = 0
    private var trace = WireTrace()
    private var hasGreeted = false
    /// Input not yet given to the engine; suspended while a delay, a commit or a hook is in progress.
    private let input = SessionInputPump()

    private let tlsContext: TLSContext?
    /// The listener's job: port 25 (mail for local users) or submission (the users' own mail, after AUTH).
    private let spec: ListenerSpec
    /// The configuration in force when the session began; a reload applies to later sessions.
    private let settings: PostOfficeConfiguration
    /// The user who logged in with SMTP AUTH (their mailbox address).
    private var authenticatedUser: MailAddress?
    /// The client is in `relay_networks`: it may send to other domains without AUTH.
    private let isTrustedNetwork: Bool
    /// The client is in `mail_authentication_skip_networks`.
    private let skipsMailAuthentication: Bool
    /// The SPF result of the current transaction, checked at MAIL FROM.
    private var spfOutcome: SPFOutcome?
    /// The current transaction went through the in-flow gate (`in_flow_delay`): only its first recipient for
    /// the queue waits. Reset at MAIL FROM.
    private var passedInflowGate = false
    /// This session's place at the gate while it waits (given back if the connection closes).
    private var inflowTicket: InflowGate.Ticket?
    /// An LMTP listener (RFC 2033): LHLO, local recipients only, one reply per recipient after the message.
    private var isLMTP: Bool { spec.service == .lmtp }

    init(
        context: ServerContext, sessionID: String, admission: ConnectionRegistry.Admission,
        tls: TLSContext?, spec: ListenerSpec, peer: String
    ) {
        self.context = context
        self.sessionID = sessionID
        self.admission = admission
        self.spec = spec
        tlsContext = tls
        let settings = context.configuration
        self.settings = settings
        isTrustedNetwork = settings.relayNetworks.contains(address: peer)
        skipsMailAuthentication = settings.mailAuthenticationSkipNetworks.contains(address: peer)
        var configuration = SMTPServerConfiguration(hostname: settings.hostname, limits: settings.limits)
        let isLMTP = spec.service == .lmtp
        configuration.flavor = isLMTP ? .lmtp : .smtp
        configuration.greeting = "\(settings.hostname) \(isLMTP ? "LMTP" : "ESMTP") PostOffice"
        // STARTTLS is offered only on a plaintext port with a certificate (RFC 3207 §4); LMTP is a local hop.
        configuration.isSTARTTLSAvailable = tls != nil && spec.security != .implicit && !isLMTP
        // AUTH (RFC 4954) on submission, and on port 25 only when asked for: other servers never log in.
        // LMTP never offers it: the MTA in front has done its checks.
        if !isLMTP && (spec.service == .submission || settings.offersAuthenticationOnSMTP) {
            configuration.authenticationMechanisms = settings.smtpAuthenticationMechanisms
            // Passwords go in the clear only from trusted networks (default loopback); elsewhere AUTH waits
            // for TLS and is not even advertised before it (538 5.7.11).
            configuration.allowsAuthenticationWithoutTLS = settings.allowsPlaintextAuthenticationOnLoopback
                && settings.plaintextAuthenticationNetworks.contains(address: peer)
        }
        // RFC 6409 §4.3: submission requires authentication before MAIL (530 5.7.0).
        configuration.requiresAuthentication = spec.service == .submission
        // ETRN (RFC 1985) for the domains we hold mail for, from relay_networks or after AUTH.
        if settings.deliversOutbound {
            configuration.queueRunDomains = settings.relayDomains
            configuration.allowsQueueRunWithoutAuthentication = isTrustedNetwork
        }
        engine = SMTPServerStateMachine(configuration: configuration)
        if spec.security == .implicit { engine.tlsEstablished() }
    }

    func connectionOpened(_ connection: Connection) {
        // On an implicit-TLS listener the session opens only after the handshake.
        if connection.tlsDescription != nil { context.metrics.tlsHandshake(listener: spec.name) }
        context.environment.log(.info, "smtp.connect", connection, [
            "service": spec.name,
            "peer": connection.peer.description, "local": connection.local.description, "tls": connection.tlsDescription ?? "no",
        ])
        switch admission {
        case .admitted:
            break
        case .tooManyFromAddress, .tooManyInAll:
            // RFC 5321 §3.8: a server that cannot serve may answer 421 at once and close.
            let reply = SMTPReply(421, EnhancedStatusCode(4, 7, 0), "\(settings.hostname) Too many connections, try again later")
            context.environment.log(.warning, "smtp.refused", connection, ["reason": admission.refusalReason])
            context.metrics.refused(code: 421)
            connection.send(reply.wireBytes)
            connection.closeAfterFlushing()
            return
        }
        if context.isShuttingDown {
            connection.send(SMTPReply.shuttingDown.wireBytes)
            connection.closeAfterFlushing()
            return
        }
        connection.setIdleTimeout(seconds: settings.limits.smtpCommandTimeoutSeconds)
        let delay = settings.limits.smtpGreetingDelayMilliseconds
        guard delay > 0 else {
            greet(connection)
            return
        }
        connection.loop.schedule(afterMilliseconds: delay) { [self] in
            guard !connection.isClosed, !engine.isClosed else { return }
            greet(connection)
        }
    }

    /// ETRN for an allowed domain: its waiting mail is made due and tried now, off the loop.
    private func startQueueRun(_ node: SMTPQueueNode, _ connection: Connection) -> SMTPDecision {
        guard let manager = context.queueManager else {
            return .reject(.queueRunUnavailable(node.text, reason: "outbound delivery is off on this server"))
        }
        let (domain, subdomains): (String, Bool)
        switch node {
        case .domain(let name): (domain, subdomains) = (name, false)
        case .domainAndSubdomains(let name): (domain, subdomains) = (name, true)
        case .queue: return .reject(.queueRunNotAllowed(node.text, reason: "named queues are not supported"))
        }
        context.environment.log(.info, "smtp.etrn", connection, ["client": connection.peer.host, "node": node.text])
        context.io.storagePool.submit {
            manager.flush(domain: domain, includingSubdomains: subdomains)
            manager.scan()
        }
        return .accept
    }

    private func greet(_ connection: Connection) {
        hasGreeted = true
        perform(engine.start(), on: connection)
    }

    func connection(_ connection: Connection, received bytes: [UInt8]) {
        unreportedBytes += bytes.count
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
        context.metrics.tlsHandshake(listener: spec.name)
        context.environment.log(.info, "smtp.tls", connection, ["tls": connection.tlsDescription ?? ""])
        // RFC 3207 §4.2: forget everything from before the handshake; the client must EHLO again.
        engine.tlsEstablished()
        connection.resumeReading()
    }

    func connectionTLSFailed(_ connection: Connection, reason: String) {
        context.metrics.tlsFailure(listener: spec.name)
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
        if let ticket = inflowTicket {
            context.inflowGate?.cancel(ticket)
            inflowTicket = nil
        }
        context.metrics.received(bytes: unreportedBytes, listener: spec.name)
        unreportedBytes = 0
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
                if reply.isError && reply.code != 334 {
                    context.metrics.refused(code: reply.code)
                    // Every refusal, with the client, so an admin can see (and grep) what was refused and why.
                    context.environment.log(.info, "smtp.refusal", connection, [
                        "client": connection.peer.host, "code": String(reply.code),
                        "status": reply.enhancedCode?.description ?? "", "text": reply.lines.first ?? "",
                    ])
                }
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
            case .checkSender(let sender, let parameters):
                accepted = []
                remote = []
                forwarded = [:]
                passedInflowGate = false
                reversePath = sender
                declaredSize = parameters.size
                if let refusal = submissionRefusal(sender: sender, connection) {
                    actions += engine.resolveSender(.reject(refusal))
                    continue
                }
                let request = SenderRequest(reversePath: sender, client: connection.peer, heloName: engine.heloName ?? "")
                let router = context.router
                spfOutcome = nil
                if let authenticator = mailAuthenticator {
                    // SPF (RFC 7208) for MAIL FROM, HELO for <>: answered here when DNS is all cached (the
                    // usual repeat sender), else DNS waits, so on the storage pool.
                    if !router.mayBlock, let cached = cachedSPF(sender, authenticator, connection) {
                        let decision = Self.spfDecision(
                            cached.outcome, rejectsFail: settings.rejectsSPFFail, router: router, request: request, session: sessionID)
                        spfOutcome = cached.outcome
                        logSPF(cached.outcome, connection)
                        actions += engine.resolveSender(decision)
                        continue
                    }
                    checkSPF(sender, authenticator, request, rest: Array(actions[index...]), connection)
                    return
                }
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
                if let user = authenticatedUser,
                    !context.submissionLimiter.admit(.recipient, user: user.description, limit: settings.submissionRecipientsPerHour)
                {
                    context.environment.log(.warning, "smtp.rate_limited", connection, [
                        "client": connection.peer.host, "user": user.description, "limit": "submission_recipients_per_hour",
                    ])
                    actions += engine.resolveRecipient(.reject(SMTPReply(
                        450, EnhancedStatusCode(4, 7, 1),
                        "Too many recipients this hour for \(user) (submission_recipients_per_hour); try again later")))
                    continue
                }
                let request = RecipientRequest(
                    recipient: recipient, reversePath: reversePath, client: connection.peer, heloName: engine.heloName ?? "")
                let router = context.router
                // relay_domains: we accept for these and forward (a backup MX), from anyone.
                // LMTP: local mailboxes only, whoever the client is.
                let localOnly = isLMTP
                let mayRelay = !localOnly && (authenticatedUser != nil || isTrustedNetwork
                    || settings.relayDomains.contains(recipient.normalizedDomain))
                // An alias's targets in other domains go out through the queue when there is one (never over LMTP).
                let forwards = !localOnly && context.sinks.queue != nil
                // The quota check reads the recipient's maildirsize: on the storage pool, like a hook.
                let checksQuota = context.deliveryAgent.enforcesQuota
                guard router.mayBlock || checksQuota else {
                    let route = router.route(
                        request, mayRelay: mayRelay, localOnly: localOnly, forwardsRemoteTargets: forwards, session: sessionID)
                    let replies = engine.resolveRecipient(accept(recipient, route))
                    if addsToQueue(route), waitsAtInflowGate(then: Array(actions[index...]) + replies, connection) { return }
                    actions += replies
                    continue
                }
                let size = declaredSize
                suspend(Array(actions[index...]), connection) { [sessionID] in
                    let route = router.route(
                        request, mayRelay: mayRelay, localOnly: localOnly, forwardsRemoteTargets: forwards, session: sessionID)
                    return checksQuota ? router.checkQuota(route, request: request, declaredSize: size, session: sessionID) : route
                } resume: { [self] route in
                    engine.resolveRecipient(accept(recipient, route))
                } waitsAtGate: { [self] route in
                    addsToQueue(route)
                }
                return
            case .beginMessage(let envelope):
                connection.setIdleTimeout(seconds: settings.limits.smtpDataTimeoutSeconds)
                message = openSink(envelope, connection)
            case .appendMessage(let bytes):
                message?.append(bytes)
            case .commitMessage:
                connection.setIdleTimeout(seconds: settings.limits.smtpCommandTimeoutSeconds)
                guard let sink = message else {
                    actions += engine.resolveMessage(.reject(SMTPReply.temporaryFailure))
                    continue
                }
                message = nil
                // Commit latency runs from here (the end of DATA) to the durable 250, on the injected clock.
                let clock = context.environment.clock
                let dataEnded = clock.now()
                let recipientCounts = (local: accepted.count, queued: remote.count)
                // The commit waits on fsync: run it on the storage pool and carry on with the engine's
                // answer (the 250) only once it is durable. Reading goes on (most clients send nothing
                // until the 250): pipelined input waits in `input`, and holding any pauses reading.
                // Not pausing up front saves two epoll_ctl calls and a manager-thread wake-up per message.
                let rest = Array(actions[index...])
                input.isSuspended = true
                if isLMTP {
                    commitPerRecipient(sink, rest: rest, connection)
                    return
                }
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
                        let receivedBytes = unreportedBytes
                        unreportedBytes = 0
                        if case .accept = decision {
                            messageCount += 1
                            let now = clock.now()
                            context.metrics.messageAccepted(
                                listener: spec.name, localRecipients: recipientCounts.local,
                                queuedRecipients: recipientCounts.queued,
                                commitMicroseconds: (now.seconds - dataEnded.seconds) * 1_000_000
                                    + (now.microseconds - dataEnded.microseconds),
                                receivedBytes: receivedBytes)
                        } else {
                            context.metrics.received(bytes: receivedBytes, listener: spec.name)
                        }
                        perform(rest + engine.resolveMessage(decision), on: connection)
                        feed(connection)
                    }
                }
                return
            case .abortMessage:
                connection.setIdleTimeout(seconds: settings.limits.smtpCommandTimeoutSeconds)
                message?.abort()
                message = nil
            case .startQueueRun(let node):
                actions += engine.resolveQueueRun(startQueueRun(node, connection))
            case .close:
                connection.closeAfterFlushing()
            case .authenticate(let credentials):
                authenticate(credentials, rest: Array(actions[index...]), connection)
                return
            case .startTLS:
                authenticatedUser = nil  // RFC 3207 §4.2: nothing from before the handshake counts
                // Whatever followed STARTTLS in the clear is discarded, never read as commands.
                input.removeAll()
                guard let tlsContext else { continue }
                // The 220 went out in the clear; from here on the socket carries the handshake.
                connection.startTLS(context: tlsContext)
            }
        }
    }

    /// The checker when this session's mail is checked: port 25, not logged in, not from relay_networks or
    /// mail_authentication_skip_networks, and mail_authentication on.
    private var mailAuthenticator: MailAuthenticator? {
        guard spec.service == .smtp, settings.mailAuthentication, authenticatedUser == nil, !isTrustedNetwork,
            !skipsMailAuthentication
        else { return nil }
        return context.mailAuthenticator
    }

    /// Checks SPF at MAIL FROM on the storage pool, then (unless `spf_policy = reject-fail` refuses a fail)
    /// takes the router's decision there too, and carries on with the engine.
    private func checkSPF(
        _ sender: MailAddress?, _ authenticator: MailAuthenticator, _ request: SenderRequest, rest: [SMTPAction],
        _ connection: Connection
    ) {
        let helo = engine.heloName ?? ""
        let client = connection.peer.host
        let receiver = settings.authservID ?? settings.hostname
        let now = context.environment.clock.now().seconds
        let timeout = settings.mailAuthenticationTimeoutSeconds
        let rejectsFail = settings.rejectsSPFFail
        let router = context.router
        suspend(rest, connection) { [sessionID] () -> (SPFOutcome?, SMTPDecision) in
            let outcome = authenticator.checkSPF(
                reversePath: sender, helo: helo, client: client, receiver: receiver, now: now, timeoutSeconds: timeout)
            return (outcome, Self.spfDecision(outcome, rejectsFail: rejectsFail, router: router, request: request, session: sessionID))
        } resume: { [self] (outcome, decision) in
            spfOutcome = outcome
            logSPF(outcome, connection)
            return engine.resolveSender(decision)
        }
    }

    /// `checkSPF` from cached DNS alone, on the event loop; nil when DNS must be asked.
    private func cachedSPF(
        _ sender: MailAddress?, _ authenticator: MailAuthenticator, _ connection: Connection
    ) -> MailAuthenticator.CachedSPF? {
        authenticator.cachedSPF(
            reversePath: sender, helo: engine.heloName ?? "", client: connection.peer.host,
            receiver: settings.authservID ?? settings.hostname, now: context.environment.clock.now().seconds)
    }

    /// MAIL FROM's decision after SPF: refused for a fail under `spf_policy = reject-fail`, else the router's.
    private static func spfDecision(
        _ outcome: SPFOutcome?, rejectsFail: Bool, router: Router, request: SenderRequest, session: String
    ) -> SMTPDecision {
        if rejectsFail, let outcome, outcome.result == .fail {
            let explanation = replyText(outcome.explanation ?? "SPF fail")
            return .reject(SMTPReply(
                550, EnhancedStatusCode(5, 7, 23),
                "SPF check failed for \(outcome.request.domain): \(explanation) (RFC 7208; the domain owner must list this host in SPF)"))
        }
        return router.decide(sender: request, session: session)
    }

    private func logSPF(_ outcome: SPFOutcome?, _ connection: Connection) {
        // A pass is logged once, on the message's `smtp.authentication` line (spf=pass, spf_domain): a line
        // here as well cost every checked message a second formatted line and write. Every other result is
        // logged at MAIL FROM, where it may decide the reply.
        if outcome?.result == .pass { return }
        context.environment.log(.info, "smtp.spf", connection, [
            "client": connection.peer.host, "result": outcome?.result.rawValue ?? "none", "domain": outcome?.request.domain ?? "",
            "identity": outcome?.request.identity.rawValue ?? "", "problem": outcome?.problem ?? "",
        ])
    }

    /// Text from DNS made safe for an SMTP reply line: printable ASCII, at most 200 characters.
    private static func replyText(_ text: String) -> String {
        String(String(text.unicodeScalars.map { $0.value >= 32 && $0.value < 127 ? Character($0) : " " }).prefix(200))
    }

    /// LMTP's commit (RFC 2033 §4.2): each recipient delivered on its own on the storage pool, then one reply
    /// per recipient in RCPT order, each 250 only once that recipient's copy and directory are fsync'd.
    private func commitPerRecipient(_ sink: any MessageSink, rest: [SMTPAction], _ connection: Connection) {
        let recipients = accepted.map(\.address)
        context.io.storagePool.submit { [self] in
            let outcomes = sink.commitRecipients(count: recipients.count)
            for (recipient, outcome) in zip(recipients, outcomes) where !outcome.isDelivered {
                context.environment.logSink.log(LogRecord(.warning, "lmtp.recipient_failed", session: sessionID, [
                    ("client", connection.peer.description), ("rcpt", recipient.description),
                    ("code", outcome.statusCode.description), ("reason", outcome.reason),
                ]))
            }
            let decisions = outcomes.map(\.smtpDecision)
            connection.loop.execute { [self] in
                input.isSuspended = false
                context.metrics.received(bytes: unreportedBytes, listener: spec.name)
                unreportedBytes = 0
                if outcomes.contains(where: \.isDelivered) { messageCount += 1 }
                perform(rest + engine.resolveMessage(recipients: decisions), on: connection)
                feed(connection)
            }
        }
    }

    /// Runs a decision that may block (an embedder's hook) on the storage pool with the session suspended,
    /// then hands it to the engine back on the loop and carries on with the remaining actions (after the
    /// in-flow gate when `waitsAtGate` says the decision adds to the queue).
    private func suspend<Decision: Sendable>(
        _ rest: [SMTPAction], _ connection: Connection, decide: @escaping @Sendable () -> Decision,
        resume: @escaping (Decision) -> [SMTPAction], waitsAtGate: ((Decision) -> Bool)? = nil
    ) {
        input.isSuspended = true
        let resume = UncheckedSendable(resume)
        let waitsAtGate = UncheckedSendable(waitsAtGate)
        context.io.storagePool.submit { [self] in
            let decision = decide()
            connection.loop.execute { [self] in
                input.isSuspended = false
                guard !connection.isClosed else { return }
                let actions = rest + resume.value(decision)
                if waitsAtGate.value?(decision) == true, waitsAtInflowGate(then: actions, connection) { return }
                perform(actions, on: connection)
                feed(connection)
            }
        }
    }

    /// True when `route` puts mail in the outbound queue and this transaction has not yet been through the
    /// in-flow gate (which is on: a queue, `in_flow_delay` above 0). LMTP never queues.
    private func addsToQueue(_ route: Router.Route) -> Bool {
        guard !passedInflowGate, !isLMTP, settings.inFlowDelayMilliseconds > 0, context.inflowGate != nil,
            context.sinks.queue != nil
        else { return false }
        switch route {
        case .remote: return true
        case .forwarded(_, let addresses): return !addresses.isEmpty
        case .local, .rejected: return false
        }
    }

    /// `in_flow_delay` (Postfix's): asks the gate whether this transaction may add to the queue now. False:
    /// go on at once. True: the session waits (input suspended; a small record at the gate and one timer on
    /// this loop) and `actions` are carried out when an attempt starts from the backlog, the backlog falls
    /// to its threshold, or the delay passes, whichever comes first; the wait is logged once.
    private func waitsAtInflowGate(then actions: [SMTPAction], _ connection: Connection) -> Bool {
        passedInflowGate = true
        guard let gate = context.inflowGate else { return false }
        let admission = gate.admit { [self] release in
            connection.loop.execute { [self] in
                inflowTicket = nil
                input.isSuspended = false
                guard !connection.isClosed else { return }
                context.environment.log(.info, "smtp.inflow_delay", connection, [
                    "client": connection.peer.host, "waited_ms": String(release.waitedMicroseconds / 1000),
                    "outcome": release.outcome.rawValue, "waiting": String(release.backlog.waiting),
                    "in_flight": String(release.backlog.inFlight),
                ])
                perform(actions, on: connection)
                feed(connection)
            }
        }
        guard case .wait(let ticket) = admission else { return false }
        input.isSuspended = true
        inflowTicket = ticket
        connection.loop.schedule(afterMilliseconds: settings.inFlowDelayMilliseconds) { gate.expire(ticket) }
        return true
    }

    /// `submission_hide_client`: a submitted message does not carry the user's own address.
    private var hidesClient: Bool { authenticatedUser != nil && settings.hidesSubmissionClient }

    /// Checks an AUTH exchange's credentials with the authenticator on the storage pool; a failure is
    /// answered only after the failure delay (a timer, not a sleep), and logged with the client address.
    private func authenticate(_ credentials: PlainCredentials, rest: [SMTPAction], _ connection: Connection) {
        input.isSuspended = true
        let authenticator = context.authenticator
        let peer = connection.peer
        let login = credentials.authenticationIdentity
        let password = credentials.password
        context.io.storagePool.submit { [self] in
            let outcome = authenticator.authenticate(login: login, password: password, client: peer)
            connection.loop.execute { [self] in
                guard !connection.isClosed else { return }
                let result: SMTPAuthenticationResult
                switch outcome {
                case .authenticated(let user):
                    authenticatedUser = user
                    context.environment.log(.info, "smtp.login", connection, ["client": peer.host, "user": user.description])
                    result = .success(identity: user.description)
                case .unavailable(let reason):
                    // The verifier could not decide: 454 4.7.0, try again later (RFC 4954 §6).
                    context.environment.log(.warning, "smtp.login_unavailable", connection, [
                        "client": peer.host, "user": login, "reason": reason,
                    ])
                    result = .temporaryFailure
                case .refused, .throttled:
                    context.metrics.authenticationFailed(listener: spec.name)
                    context.environment.log(.info, "smtp.login_failed", connection, [
                        "client": peer.host, "user": login, "reason": outcome == .throttled ? "throttled" : "credentials",
                    ])
                    result = .failure
                }
                let finish: @Sendable () -> Void = { [self] in
                    input.isSuspended = false
                    perform(rest + engine.resolveAuthentication(result), on: connection)
                    feed(connection)
                }
                let delay = authenticator.failureDelayMilliseconds
                guard result != .failure, delay > 0 else {
                    finish()
                    return
                }
                connection.loop.schedule(afterMilliseconds: delay) {
                    guard !connection.isClosed else { return }
                    finish()
                }
            }
        }
    }

    /// Submission rules at MAIL FROM: the sender must be an address the user owns (RFC 6409 §6.1), and the
    /// user's hourly message allowance must not be used up. nil when the sender may go on.
    private func submissionRefusal(sender: MailAddress?, _ connection: Connection) -> SMTPReply? {
        guard let user = authenticatedUser else { return nil }
        if settings.rejectsSenderLoginMismatch, let sender, !owns(user, sender) {
            context.environment.log(.warning, "smtp.sender_mismatch", connection, [
                "client": connection.peer.host, "user": user.description, "from": sender.description,
            ])
            return SMTPReply(
                553, EnhancedStatusCode(5, 7, 1),
                "<\(sender)>: Sender address not owned by user \(user) (use your own address or one of your aliases)")
        }
        guard context.submissionLimiter.admit(.message, user: user.description, limit: settings.submissionMessagesPerHour) else {
            context.environment.log(.warning, "smtp.rate_limited", connection, [
                "client": connection.peer.host, "user": user.description, "limit": "submission_messages_per_hour",
            ])
            return SMTPReply(
                450, EnhancedStatusCode(4, 7, 1), "Too many messages this hour for \(user) (submission_messages_per_hour); try again later")
        }
        return nil
    }

    /// True when `sender` is the user's own address or an alias that delivers to the user.
    private func owns(_ user: MailAddress, _ sender: MailAddress) -> Bool {
        if sender == user { return true }
        guard case .local(let mailboxes) = context.deliveryAgent.resolve(sender) else { return false }
        return mailboxes.contains { $0.user == user }
    }

    /// The engine's answer to a routed recipient; local ones are remembered for the message sink.
    private func accept(_ recipient: MailAddress, _ route: Router.Route) -> SMTPDecision {
        switch route {
        case .local(let resolution):
            accepted.append((recipient, resolution))
            return .accept
        case .remote(let address):
            if isLMTP {
                // The router never routes LMTP recipients away; should an embedder's hook, refuse.
                return .reject(SMTPReply(550, EnhancedStatusCode(5, 1, 1), "<\(recipient)>: not a local mailbox on this server"))
            }
            if context.sinks.queue != nil {
                remote.append(address)
                return .accept
            }
            // Relaying needs the outbound queue, which is off (deliver_outbound = no): try again later.
            return .reject(SMTPReply(
                451, EnhancedStatusCode(4, 3, 0),
                "<\(recipient)>: Cannot relay: outbound delivery is off on this server (deliver_outbound = no); try again later"))
        case .forwarded(let local, let addresses):
            if let local { accepted.append((recipient, local)) }
            forwarded[recipient] = addresses
            return .accept
        case .rejected(let reply):
            return .reject(reply)
        }
    }

    /// Opens the message sink for the engine's envelope, with the trace facts for the Received: header; for
    /// checked mail, a ``MailAuthenticationSink`` that opens the real one once the results are known.
    private func openSink(_ envelope: SMTPEnvelope, _ connection: Connection) -> any MessageSink {
        let queueID = context.sinks.makeQueueID()
        let trace = TraceInfo(
            sessionID: sessionID, queueID: queueID, heloName: envelope.heloName,
            clientAddress: hidesClient || connection.peer.isUnix ? nil : connection.peer.host,
            // RFC 3848: ESMTPS when the session is under TLS; the TLS parameters go in the comment (RFC 8314 §4.3).
            // RFC 3848: ESMTPA / ESMTPSA after AUTH; LMTP for LMTP.
            protocolName: (isLMTP ? "LMTP" : envelope.isExtended ? "ESMTP" : "SMTP") + (connection.tlsDescription == nil ? "" : "S")
                + (authenticatedUser == nil ? "" : "A"),
            tlsDescription: connection.tlsDescription, hostname: settings.hostname,
            timeZoneOffsetMinutes: context.environment.timeZoneOffsetMinutes)
        if isLMTP {
            let envelopeFacts = MessageEnvelope(
                sessionID: sessionID, queueID: queueID, reversePath: envelope.reversePath, recipients: envelope.recipients)
            return context.sinks.openPerRecipient(envelope: envelopeFacts, recipients: recipientsFor(envelope), trace: trace)
        }
        let messageEnvelope = MessageEnvelope(
            sessionID: sessionID, queueID: queueID, reversePath: envelope.reversePath, recipients: envelope.recipients)
        let recipients = recipientsFor(envelope)
        let queued = queueEnvelope(envelope)
        let sinks = context.sinks
        let mailRoot = context.deliveryAgent.configuration.mailRoot
        if let authenticator = mailAuthenticator {
            // The real sink opens at commit (on the storage pool), once the results are known; all it needs is fixed now.
            return MailAuthenticationSink(
                settings: MailAuthenticationSink.Settings(
                    authservID: settings.authservID ?? settings.hostname, addsReceivedSPFHeader: settings.addsReceivedSPFHeader,
                    enforcesDMARC: settings.enforcesDMARC, timeoutSeconds: settings.mailAuthenticationTimeoutSeconds),
                authenticator: authenticator, spf: spfOutcome, now: context.environment.clock.now().seconds,
                spoolDirectory: context.authenticationSpoolDirectory, spoolName: "auth-\(queueID)",
                logSink: context.environment.logSink, sessionID: sessionID
            ) { quarantine in
                sinks.open(
                    envelope: messageEnvelope, recipients: quarantine ? Self.junkFolders(recipients, mailRoot: mailRoot) : recipients,
                    queued: queued, trace: trace)
            }
        }
        let sink = sinks.open(envelope: messageEnvelope, recipients: recipients, queued: queued, trace: trace)
        guard authenticatedUser != nil || isTrustedNetwork else { return sink }
        // Mail we send is DKIM-signed when its From: domain has a key (after Date: and Message-ID: are added,
        // so they are signed too).
        let signed = DKIMSigningSink(wrapping: sink, signer: context.dkimKeys, spoolDirectory: context.sinks.spoolDirectory)
        // RFC 6409 §8: a submission server completes a message that lacks Date: or Message-ID:.
        guard authenticatedUser != nil else { return signed }
        let now = context.environment.clock.now()
        return SubmissionHeaderSink(
            wrapping: signed,
            date: MailDateFormatter.format(seconds: now.seconds, offsetMinutes: context.environment.timeZoneOffsetMinutes),
            messageID: "<\(now.seconds).\(context.environment.random.token(length: 16))@\(settings.hostname)>")
    }

    /// The recipients with every local copy sent to the user's `.Junk` Maildir++ folder (DMARC quarantine).
    /// Runs on the storage pool: a missing `.Junk` is made a Maildir++ folder (directories created without
    /// following links, inside `mailRoot`, plus the `maildirfolder` marker); anything already at that name is
    /// left to the delivery's own checks.
    static func junkFolders(_ recipients: [ResolvedRecipient], mailRoot: String) -> [ResolvedRecipient] {
        recipients.map { recipient in
            ResolvedRecipient(address: recipient.address, mailboxes: recipient.mailboxes.map { mailbox in
                let junk = mailbox.maildir.folder(named: "Junk")
                var status = stat()
                if let junk, lstat(junk.path, &status) != 0, errno == ENOENT,
                    (try? mailbox.maildir.openHandle(inside: mailRoot)) != nil, (try? junk.openHandle(inside: mailRoot)) != nil
                {
                    let marker = open(junk.path + "/maildirfolder", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
                    if marker >= 0 { close(marker) }
                }
                return DeliveryMailbox(user: mailbox.user, maildir: mailbox.maildir, folder: junk)
            })
        }
    }

    /// The queue's envelope for the remote recipients, with their DSN parameters (RFC 3461), or nil.
    private func queueEnvelope(_ envelope: SMTPEnvelope) -> QueueEnvelope? {
        // Local recipients that asked for NOTIFY=SUCCESS go into the queue too (flagged as delivered), so the
        // queue manager makes their `delivered` report once the Maildir delivery is durable.
        func wantsSuccess(_ index: Int) -> Bool {
            envelope.reversePath != nil && index < envelope.recipientParameters.count
                && envelope.recipientParameters[index].dsnNotify?.contains(.success) == true
                && accepted.contains { $0.address == envelope.recipients[index] && !$0.resolution.mailboxes.isEmpty }
        }
        let localSuccess = envelope.recipients.indices.filter(wantsSuccess)
        guard !remote.isEmpty || !forwarded.isEmpty || !localSuccess.isEmpty else { return nil }
        var recipients: [QueueRecipient] = []
        for (index, address) in envelope.recipients.enumerated() {
            let parameters = index < envelope.recipientParameters.count ? envelope.recipientParameters[index] : RecipientParameters()
            if localSuccess.contains(index) {
                recipients.append(QueueRecipient(
                    address, originalRecipient: parameters.originalRecipient.map { "\($0.addressType);\($0.address)" },
                    notify: "SUCCESS", isDeliveredLocally: true))
            }
            let targets = remote.contains(address) ? [address] : (forwarded[address] ?? [])
            guard !targets.isEmpty else { continue }
            let notify = parameters.dsnNotify.map { set -> String in
                if set.isEmpty { return "NEVER" }
                return [(RecipientParameters.DSNNotify.success, "SUCCESS"), (.failure, "FAILURE"), (.delay, "DELAY")]
                    .filter { set.contains($0.0) }.map(\.1).joined(separator: ",")
            }
            // An alias's target keeps the address the sender wrote as its original recipient (RFC 3461 §4.2).
            let original = parameters.originalRecipient.map { "\($0.addressType);\($0.address)" }
                ?? (remote.contains(address) ? nil : "rfc822;\(address)")
            for target in targets where !recipients.contains(where: { $0.address == target }) {
                recipients.append(QueueRecipient(target, originalRecipient: original, notify: notify))
            }
        }
        return QueueEnvelope(
            reversePath: envelope.reversePath, arrival: context.environment.clock.now(), recipients: recipients,
            envelopeID: envelope.mailParameters.envelopeID, returnContent: envelope.mailParameters.dsnReturn?.rawValue,
            isLocalSender: authenticatedUser != nil || isTrustedNetwork,
            is8Bit: envelope.mailParameters.body != .sevenBit || envelope.mailParameters.isSMTPUTF8)
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
