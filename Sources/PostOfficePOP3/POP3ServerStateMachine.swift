// POP3ServerStateMachine: the sans-I/O POP3 server session (RFC 1939 states, RFC 2449 CAPA and pipelining,
// RFC 5034 AUTH PLAIN). Bytes go in, actions come out; authentication, message streaming and UPDATE are
// delegated to the runtime, and the engine pauses (buffering pipelined input) until it reports back.
import PostOfficeCore
import PostOfficeSASL

/// One POP3 server session.
///
/// The runtime calls ``start()`` once, feeds received bytes to ``receive(_:)``, performs the returned
/// ``POP3Action``s in order, and answers each pausing action with its callback. While
/// ``isAwaitingDecision`` is true the engine answers nothing and buffers input (the runtime should stop
/// reading to push back on the client). After ``POP3Action/close`` every call returns no actions.
///
/// States follow [RFC 1939 §3](https://www.rfc-editor.org/rfc/rfc1939#section-3): AUTHORIZATION until a
/// login succeeds, TRANSACTION until QUIT, then UPDATE. A connection that drops or times out never reaches
/// UPDATE, so nothing is deleted.
public struct POP3ServerStateMachine: Sendable {
    private enum Phase: Sendable {
        case authorization(user: String?)
        /// `AUTH PLAIN` without initial response: the next line is the client's base64 response.
        case awaitingPlainResponse(SASLServerExchange)
        case transaction
        case update
        case closed
    }

    /// What the runtime is doing for us; input waits meanwhile.
    private enum Pending: Sendable {
        case authentication
        case message(number: Int, marksRetrieved: Bool)
        case update
    }

    private let configuration: POP3ServerConfiguration
    private var phase: Phase = .authorization(user: nil)
    private var pending: Pending?
    private var hasStarted = false
    private var isShuttingDown = false
    private var allowsPlaintext: Bool
    private var isTLSActive: Bool
    private var framer: LineFramer
    private var maildrop = POP3Maildrop(snapshot: [])
    private var errorCount = 0
    private var authenticationFailures = 0

    public init(configuration: POP3ServerConfiguration) {
        self.configuration = configuration
        allowsPlaintext = configuration.allowsPlaintextAuthentication || configuration.isTLSActive
        isTLSActive = configuration.isTLSActive
        framer = LineFramer(maximumLineLength: max(configuration.limits.pop3CommandLineLength, 8))
    }

    /// True while an authenticate, sendMessage or commit action awaits its callback.
    public var isAwaitingDecision: Bool { pending != nil }

    /// True once the engine has asked for the connection to close.
    public var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// Whether a login has succeeded (TRANSACTION or UPDATE state).
    public var isAuthenticated: Bool {
        switch phase {
        case .transaction, .update: return true
        default: return false
        }
    }

    private var isAPOPActive: Bool { configuration.isAPOPEnabled && configuration.apopTimestamp != nil }

    // MARK: - Entry points

    /// The greeting ([RFC 1939 §4](https://www.rfc-editor.org/rfc/rfc1939#section-4)): `+OK PostOffice ready`,
    /// with the APOP timestamp appended only when APOP is enabled. Input received before it is answered after it.
    public mutating func start() -> [POP3Action] {
        guard !hasStarted, !isClosed else { return [] }
        hasStarted = true
        var text = "\(configuration.implementation) ready"
        if isAPOPActive, let timestamp = configuration.apopTimestamp { text += " \(timestamp)" }
        var actions: [POP3Action] = [.send(.ok(text))]
        if isShuttingDown {
            actions += shutDown()
        } else {
            actions += processBufferedLines()
        }
        return actions
    }

    /// Feeds received bytes; returns the answers to every complete command line, in order (pipelining,
    /// [RFC 2449 §6.6](https://www.rfc-editor.org/rfc/rfc2449#section-6.6)).
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [POP3Action] {
        guard !isClosed else { return [] }
        framer.append(bytes)
        if pending != nil || !hasStarted {
            // Bounded buffering while paused: a client may pipeline, but not without limit.
            guard framer.bufferedByteCount <= configuration.maximumPendingInputBytes else {
                // No -ERR while a message may be mid-stream: it would land inside the message text.
                if case .message = pending {
                    framer.discardBuffered()
                    phase = .closed
                    pending = nil
                    return [.close]
                }
                return closing(with: .tooMuchPipelinedInput)
            }
            return []
        }
        return processBufferedLines()
    }

    /// The runtime's answer to ``POP3Action/authenticate(user:password:)`` or
    /// ``POP3Action/authenticateAPOP(user:timestamp:digest:)``.
    public mutating func authenticationFinished(_ result: POP3AuthenticationResult) -> [POP3Action] {
        // After the engine closed on its own (timeout, limits) a late callback is expected and ignored.
        if isClosed { return [] }
        guard case .authentication = pending else {
            assertionFailure("authenticationFinished without a pending authentication")
            return []
        }
        pending = nil
        var actions: [POP3Action] = []
        switch result {
        case .success(let snapshot):
            maildrop = POP3Maildrop(snapshot: snapshot)
            phase = .transaction
            actions.append(.send(.ok("Maildrop has \(maildrop.visibleCount) messages (\(maildrop.visibleOctets) octets)")))
        case .failure:
            phase = .authorization(user: nil)
            authenticationFailures += 1
            if authenticationFailures >= configuration.maximumAuthenticationFailures {
                return closing(with: .tooManyAuthenticationFailures)
            }
            actions.append(.send(.authenticationFailed))
        case .inUse:
            phase = .authorization(user: nil)
            actions.append(.send(.maildropInUse))
        case .temporaryFailure:
            phase = .authorization(user: nil)
            actions.append(.send(.temporaryFailure))
        }
        return actions + resume()
    }

    /// The runtime has written a whole message for ``POP3Action/sendMessage(storageKey:octets:bodyLineLimit:)``.
    /// A RETR marks the message retrieved.
    public mutating func messageSent() -> [POP3Action] {
        if isClosed { return [] }
        guard case .message(let number, let marksRetrieved) = pending else {
            assertionFailure("messageSent without a pending message")
            return []
        }
        pending = nil
        if marksRetrieved { maildrop.markRetrieved(number) }
        return resume()
    }

    /// The runtime could not open the message of a pending sendMessage and has written nothing: answers
    /// `-ERR [SYS/TEMP] Message unavailable` and leaves the message unmarked.
    public mutating func messageUnavailable() -> [POP3Action] {
        if isClosed { return [] }
        guard case .message = pending else {
            assertionFailure("messageUnavailable without a pending message")
            return []
        }
        pending = nil
        return [.send(.messageUnavailable)] + resume()
    }

    /// The runtime has finished the UPDATE requested by ``POP3Action/commit(deleted:retrieved:)``:
    /// `+OK` (or `-ERR [SYS/TEMP]` when some deletions failed, RFC 1939 §6), then close.
    public mutating func updateFinished(success: Bool) -> [POP3Action] {
        if isClosed { return [] }
        guard case .update = pending else {
            assertionFailure("updateFinished without a pending update")
            return []
        }
        pending = nil
        if success {
            let remaining = maildrop.visibleCount
            let detail = remaining == 0 ? "maildrop empty" : "\(remaining) messages left"
            return closing(with: .ok("\(configuration.implementation) signing off (\(detail))"))
        }
        return closing(with: .updateFailed)
    }

    /// The inactivity timer fired: close without a response and without UPDATE
    /// ([RFC 1939 §3](https://www.rfc-editor.org/rfc/rfc1939#section-3)).
    public mutating func timedOut() -> [POP3Action] {
        guard !isClosed else { return [] }
        phase = .closed
        pending = nil
        framer.discardBuffered()
        return [.close]
    }

    /// The server is stopping: `-ERR [SYS/TEMP] Server shutting down` and close, without UPDATE. If the
    /// runtime is mid-action, that finishes first (an UPDATE in progress completes normally).
    public mutating func beginShutdown() -> [POP3Action] {
        guard !isClosed else { return [] }
        isShuttingDown = true
        if pending != nil || !hasStarted { return [] }
        return shutDown()
    }

    // MARK: - Processing

    private mutating func resume() -> [POP3Action] {
        if isClosed { return [] }
        if isShuttingDown { return shutDown() }
        return processBufferedLines()
    }

    private mutating func shutDown() -> [POP3Action] {
        closing(with: .shuttingDown)
    }

    private mutating func closing(with response: POP3Response) -> [POP3Action] {
        phase = .closed
        pending = nil
        framer.discardBuffered()
        return [.send(response), .close]
    }

    private mutating func processBufferedLines() -> [POP3Action] {
        var actions: [POP3Action] = []
        while pending == nil && !isClosed {
            if case .awaitingPlainResponse = phase {
                framer.maximumLineLength = max(configuration.maximumAuthenticationLineLength, 8)
            } else {
                framer.maximumLineLength = max(configuration.limits.pop3CommandLineLength, 8)
            }
            guard let frame = framer.nextFrame() else { break }
            switch frame {
            case .tooLong:
                if case .awaitingPlainResponse = phase { phase = .authorization(user: nil) }
                actions += failure(.lineTooLong)
            case .line(let line):
                actions += handle(line: line)
            }
        }
        return actions
    }

    /// A client mistake: counts toward ``POP3ServerConfiguration/maximumErrors``; the last one closes.
    private mutating func failure(_ response: POP3Response) -> [POP3Action] {
        errorCount += 1
        if errorCount >= configuration.maximumErrors {
            return closing(with: .tooManyErrors)
        }
        return [.send(response)]
    }

    private mutating func handle(line: [UInt8]) -> [POP3Action] {
        if case .awaitingPlainResponse(var exchange) = phase {
            phase = .authorization(user: nil)
            return saslStep(exchange.receive(line))
        }
        let command: POP3Command
        do {
            command = try POP3Command(parsing: line)
        } catch {
            return failure(error.response)
        }
        switch phase {
        case .authorization(let user):
            return handleAuthorization(command, user: user)
        case .transaction:
            return handleTransaction(command)
        case .awaitingPlainResponse, .update, .closed:
            // Not reached: update is always pending and closed stops processing.
            return []
        }
    }

    // MARK: - AUTHORIZATION

    private mutating func handleAuthorization(_ command: POP3Command, user: String?) -> [POP3Action] {
        switch command {
        case .capa:
            return [capabilities()]
        case .quit:
            return closing(with: .ok("\(configuration.implementation) signing off"))
        case .user(let name):
            guard allowsPlaintext else { return failure(.plaintextDisallowed) }
            phase = .authorization(user: name)
            return [.send(.okay)]
        case .pass(let password):
            guard allowsPlaintext else { return failure(.plaintextDisallowed) }
            guard let user else { return failure(.userFirst) }
            // USER must be given again after a failed PASS.
            phase = .authorization(user: nil)
            pending = .authentication
            return [.authenticate(user: user, password: password)]
        case .apop(let name, let digest):
            guard isAPOPActive, let timestamp = configuration.apopTimestamp else { return failure(.apopNotSupported) }
            phase = .authorization(user: nil)
            pending = .authentication
            return [.authenticateAPOP(user: name, timestamp: timestamp, digest: digest)]
        case .auth(nil, _):
            let mechanisms: [[UInt8]] = allowsPlaintext ? [Array("PLAIN".utf8)] : []
            return [multiline(.mechanismList, lines: mechanisms)]
        case .auth(let mechanism?, let initialResponse):
            guard mechanism == "PLAIN" else { return failure(.unsupportedMechanism) }
            guard allowsPlaintext else { return failure(.plaintextDisallowed) }
            phase = .authorization(user: nil)
            var exchange = SASLServerExchange(mechanism: .plain)
            // "=" is an empty initial response (RFC 5034 §4); the exchange reads it so.
            let step = exchange.start(initialResponse: initialResponse.map { Array($0.utf8) })
            if case .challenge = step {
                phase = .awaitingPlainResponse(exchange)
                return [.send(.emptyContinuation)]
            }
            return saslStep(step)
        case .stls:
            guard configuration.isSTLSAvailable, !isTLSActive else { return failure(.stlsNotAvailable) }
            // Anything pipelined after STLS arrived in plaintext and must not be obeyed (RFC 2595 §3.1).
            framer.discardBuffered()
            isTLSActive = true
            allowsPlaintext = true
            return [.send(.beginTLS), .startTLS]
        default:
            return failure(.notAllowedBeforeLogin)
        }
    }

    /// The end of an AUTH PLAIN exchange. PLAIN has one message, so a further challenge cannot come.
    private mutating func saslStep(_ step: SASLServerExchange.Step) -> [POP3Action] {
        switch step {
        case .credentials(let credentials):
            return plainCredentials(credentials)
        case .failure(.cancelled):
            return failure(.authenticationCancelled)
        case .failure(.invalidBase64):
            return failure(.invalidBase64)
        case .failure(.malformedMessage), .failure(.unexpectedStep), .challenge:
            return failure(.malformedCredentials)
        }
    }

    /// `authzid NUL authcid NUL passwd` ([RFC 4616 §2](https://www.rfc-editor.org/rfc/rfc4616#section-2)).
    /// Only authzid empty or equal to authcid is accepted: no proxy logins.
    private mutating func plainCredentials(_ credentials: PlainCredentials) -> [POP3Action] {
        let authorizationID = credentials.authorizationIdentity
        let authenticationID = credentials.authenticationIdentity
        let password = credentials.password
        guard !authenticationID.isEmpty, authorizationID.isEmpty || authorizationID == authenticationID else {
            authenticationFailures += 1
            if authenticationFailures >= configuration.maximumAuthenticationFailures {
                return closing(with: .tooManyAuthenticationFailures)
            }
            return [.send(.authenticationFailed)]
        }
        pending = .authentication
        return [.authenticate(user: authenticationID, password: password)]
    }

    /// The RFC 2449 §6 capability list; the same in AUTHORIZATION and TRANSACTION, as §5 requires. APOP has
    /// no capability tag: clients see it from the greeting's timestamp.
    private func capabilities() -> POP3Action {
        var lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if allowsPlaintext { lines.insert("USER", at: 0) }
        lines.append("IMPLEMENTATION \(configuration.implementation)")
        if allowsPlaintext { lines.append("SASL PLAIN") }
        if configuration.isSTLSAvailable && !isTLSActive { lines.append("STLS") }
        return multiline(.capabilityList, lines: lines.map { Array($0.utf8) })
    }

    // MARK: - TRANSACTION

    private mutating func handleTransaction(_ command: POP3Command) -> [POP3Action] {
        switch command {
        case .capa:
            return [capabilities()]
        case .stat:
            return [.send(.ok("\(maildrop.visibleCount) \(maildrop.visibleOctets)"))]
        case .list(nil):
            let lines = maildrop.visibleMessages.map { Array("\($0.number) \($0.info.octets)".utf8) }
            let summary = POP3Response.ok("\(maildrop.visibleCount) messages (\(maildrop.visibleOctets) octets)")
            return [multiline(summary, lines: lines)]
        case .list(let number?):
            guard let info = maildrop.visibleMessage(number) else { return lookUpFailure(number) }
            return [.send(.ok("\(number) \(info.octets)"))]
        case .uidl(nil):
            let lines = maildrop.visibleMessages.map { Array("\($0.number) \($0.info.uniqueID)".utf8) }
            return [multiline(.ok("Unique-ID listing follows"), lines: lines)]
        case .uidl(let number?):
            guard let info = maildrop.visibleMessage(number) else { return lookUpFailure(number) }
            return [.send(.ok("\(number) \(info.uniqueID)"))]
        case .retr(let number):
            guard let info = maildrop.visibleMessage(number) else { return lookUpFailure(number) }
            pending = .message(number: number, marksRetrieved: true)
            return [.sendMessage(storageKey: info.storageKey, octets: info.octets, bodyLineLimit: nil)]
        case .top(let number, let lines):
            guard let info = maildrop.visibleMessage(number) else { return lookUpFailure(number) }
            pending = .message(number: number, marksRetrieved: false)
            return [.sendMessage(storageKey: info.storageKey, octets: info.octets, bodyLineLimit: lines)]
        case .dele(let number):
            guard maildrop.markDeleted(number) else { return lookUpFailure(number) }
            return [.send(.ok("Message \(number) deleted"))]
        case .noop:
            return [.send(.okay)]
        case .rset:
            maildrop.reset()
            return [.send(.ok("Maildrop has \(maildrop.visibleCount) messages (\(maildrop.visibleOctets) octets)"))]
        case .quit:
            phase = .update
            pending = .update
            return [.commit(deleted: maildrop.deletedKeys, retrieved: maildrop.retrievedKeys)]
        case .user, .pass, .apop, .auth, .stls:
            return failure(.notAllowedAfterLogin)
        }
    }

    /// A multi-line response with each line byte-stuffed (RFC 1939 §3). None of ours starts with "." today
    /// (unique-ids follow a number), but the action promises stuffed lines, so keep the promise here.
    private func multiline(_ response: POP3Response, lines: [[UInt8]]) -> POP3Action {
        .sendMultiline(response, lines: lines.map { $0.first == UInt8(ascii: ".") ? [UInt8(ascii: ".")] + $0 : $0 })
    }

    /// The -ERR for a message number that is out of range or marked deleted.
    private mutating func lookUpFailure(_ number: Int) -> [POP3Action] {
        if number >= 1 && number <= maildrop.count { return failure(.alreadyDeleted(number)) }
        return failure(.noSuchMessage(count: maildrop.count))
    }
}
