// SMTPServerStateMachine: the sans-I/O SMTP server session. Bytes in, actions out; no sockets, clocks or files.
// The driver performs the actions in order and answers the checks it is asked (sender, recipient, commit).
// This file holds the state and the run loop; the commands live in +Session, +Mail, +Data and +QueueRun.

import PostOfficeCore
import PostOfficeSASL

/// One SMTP server session ([RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)) as a state machine.
///
/// The driver calls ``start()`` when the connection opens, ``receive(_:)`` with every read, and carries
/// out the returned ``SMTPAction``s in order. `checkSender`, `checkRecipient`, `commitMessage` and (with AUTH
/// configured) `authenticate` pause the engine: until the matching `resolve…` call, input is only buffered
/// (bounded by ``SMTPServerConfiguration/maximumPendingInput``), and the resolve call goes on with the buffered
/// input, so pipelined commands ([RFC 2920](https://www.rfc-editor.org/rfc/rfc2920)) are answered in order.
///
/// With ``SMTPServerConfiguration/flavor`` set to ``SMTPFlavor/lmtp`` the same engine speaks LMTP
/// ([RFC 2033](https://www.rfc-editor.org/rfc/rfc2033)): LHLO, and after the message the driver answers
/// ``resolveMessage(recipients:)`` with one decision per accepted recipient, each sent as its own reply.
///
/// Errors (4xx/5xx replies) are counted: from `limits.softErrorLimit` on, every reply is preceded by
/// ``SMTPAction/delay(milliseconds:)``; at `limits.hardErrorLimit` the session ends with 421 4.7.0.
/// An accepted message resets the count.
///
/// A driver loop, in outline:
///
/// ```swift
/// var engine = SMTPServerStateMachine(configuration: configuration)
/// perform(engine.start())
/// while let bytes = read(timeout: engine.isReceivingMessage ? dataTimeout : commandTimeout) {
///     perform(engine.receive(bytes))   // perform: send/delay/close, store content, and for
/// }                                    // checkRecipient answer with engine.resolveRecipient(...)
/// ```
public struct SMTPServerStateMachine: Sendable {
    /// What this session offers.
    public let configuration: SMTPServerConfiguration
    /// The keywords this session advertises in its EHLO reply now.
    public var capabilities: SMTPCapabilities {
        SMTPCapabilities(configuration: configuration, isTLSActive: isTLSActive)
    }
    /// The TLS handshake after STARTTLS completed (``tlsEstablished()``).
    public internal(set) var isTLSActive = false
    /// Errors counted so far (see the type's discussion).
    public internal(set) var errorCount = 0
    /// The HELO/EHLO name, once given.
    public internal(set) var heloName: String?
    /// Who the client authenticated as with AUTH (the identity the driver returned), nil before a
    /// successful AUTH and again after STARTTLS ([RFC 3207 §4.2](https://www.rfc-editor.org/rfc/rfc3207#section-4.2)).
    public internal(set) var authenticatedIdentity: String?

    enum Mode: Sendable {
        case command
        case data(SMTPDataDecoder)
        case chunk(Chunk)
    }

    /// A BDAT chunk being read. With a `failure`, its bytes are read and thrown away and `failure` is the
    /// reply (RFC 3030 §2: the chunk must still be consumed).
    struct Chunk: Sendable {
        var size: Int
        var remaining: Int
        var isLast: Bool
        var failure: SMTPReply?
        /// How many times `failure` is sent: once, or in LMTP once per accepted recipient when the chunk
        /// was `BDAT LAST` of a transaction that had recipients (RFC 2033 §4.2).
        var failureCount = 1
    }

    enum Pending: Sendable {
        case sender(MailAddress?, MailParameters)
        case recipient(MailAddress, RecipientParameters)
        case message
        case authentication
        case queueRun(SMTPQueueNode)
    }

    enum MessageState: Sendable {
        case notBegun
        /// beginMessage was emitted and neither commitMessage nor abortMessage yet.
        case begun
        case finished
    }

    struct Transaction: Sendable {
        var reversePath: MailAddress?
        var mailParameters: MailParameters
        var recipients: [MailAddress] = []
        var recipientParameters: [RecipientParameters] = []
        /// RCPT commands that reached the recipient check or the limit, accepted or not.
        var recipientAttempts = 0
        var usesChunking = false
        var chunkedOctets = 0
        var messageState = MessageState.notBegun
    }

    // Internal rather than private: the command groups in the +Session, +Mail and +Data files use them.
    let parser: SMTPCommandParser
    var framer: LineFramer
    var mode = Mode.command
    var pending: Pending?
    var transaction: Transaction?
    var isExtended = false
    var hasStarted = false
    var closed = false
    var isShutdownRequested = false
    var pendingInputOverflowed = false
    /// The SASL exchange waiting for the client's next response line (after a 334), if any.
    var authenticationExchange: SASLServerExchange?

    public init(configuration: SMTPServerConfiguration) {
        self.configuration = configuration
        parser = SMTPCommandParser(configuration: configuration)
        framer = LineFramer(maximumLineLength: configuration.limits.smtpCommandLineLength)
    }

    // MARK: State for the driver

    /// A check or commit is waiting for its resolve call.
    public var isAwaitingDecision: Bool { pending != nil && !closed }
    /// Message content is being read (DATA or a BDAT chunk): the driver applies the data timeout.
    public var isReceivingMessage: Bool {
        switch mode {
        case .command: false
        case .data, .chunk: !closed
        }
    }
    /// The session has ended; the driver closes after flushing.
    public var isClosed: Bool { closed }
    /// Input bytes held by the engine (a partial line, or input kept while a decision is pending).
    public var bufferedByteCount: Int { framer.bufferedByteCount }

    // MARK: Events from the driver

    /// The connection opened: returns the 220 greeting. Call once.
    public mutating func start() -> [SMTPAction] {
        guard !hasStarted, !closed else { return [] }
        hasStarted = true
        let text = configuration.greeting
            ?? "\(configuration.hostname) \(configuration.flavor == .lmtp ? "LMTP" : "ESMTP") PostOffice"
        return [.send(SMTPReply(220, nil, text))]
    }

    /// The client sent bytes before it could have read the greeting (an "early talker"): 554 5.5.1 and
    /// close ([RFC 5321 §4.3.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.3.1)). ``receive(_:)``
    /// does the same when called before ``start()``.
    public mutating func receiveBeforeGreeting(_ bytes: some Collection<UInt8>) -> [SMTPAction] {
        guard !closed else { return [] }
        hasStarted = true
        var out: [SMTPAction] = []
        send(.talkedBeforeGreeting, &out)
        close(&out)
        return out
    }

    /// Bytes read from the client.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [SMTPAction] {
        guard !closed else { return [] }
        guard hasStarted else { return receiveBeforeGreeting(bytes) }
        if pending != nil {
            // Paused: keep the input for later, but only so much.
            if pendingInputOverflowed || framer.bufferedByteCount + bytes.count > configuration.maximumPendingInput {
                pendingInputOverflowed = true
            } else {
                framer.append(bytes)
            }
            return []
        }
        var out: [SMTPAction] = []
        if case .command = mode {
            framer.append(bytes)
        } else if framer.bufferedByteCount == 0 {
            // Message content straight from the read, without a copy into the line buffer.
            let input = Array(bytes)
            let used = consumeContent(input[...], &out)
            if used < input.count { framer.append(input[used...]) }
        } else {
            framer.append(bytes)
        }
        run(&out)
        return out
    }

    /// The driver's decision on the pending ``SMTPAction/checkSender(_:_:)``.
    public mutating func resolveSender(_ decision: SMTPDecision) -> [SMTPAction] {
        guard !closed, case .sender(let reversePath, let parameters) = pending else { return [] }
        pending = nil
        var out: [SMTPAction] = []
        if let reply = Self.acceptance(decision, standard: .senderOk) {
            transaction = Transaction(reversePath: reversePath, mailParameters: parameters)
            self.reply(reply, &out)
        } else {
            self.reply(Self.refusal(decision), &out)
        }
        resume(&out)
        return out
    }

    /// The driver's decision on the pending ``SMTPAction/checkRecipient(_:_:)``: `.reject(.unknownUser)`,
    /// `.reject(.relayDenied)`, `.reject(.temporaryFailure)`...
    public mutating func resolveRecipient(_ decision: SMTPDecision) -> [SMTPAction] {
        guard !closed, case .recipient(let address, let parameters) = pending else { return [] }
        pending = nil
        var out: [SMTPAction] = []
        if let reply = Self.acceptance(decision, standard: .recipientOk), transaction != nil {
            transaction?.recipients.append(address)
            transaction?.recipientParameters.append(parameters)
            self.reply(reply, &out)
        } else {
            self.reply(Self.refusal(decision), &out)
        }
        resume(&out)
        return out
    }

    /// The driver stored the message (`.accept` gives 250 2.0.0 Ok; `.acceptReplying(.messageAccepted(id:))`
    /// names it) or failed to (`.reject(.temporaryFailure)`). The transaction ends either way. In LMTP the
    /// one decision is the reply for every accepted recipient (see ``resolveMessage(recipients:)``).
    public mutating func resolveMessage(_ decision: SMTPDecision) -> [SMTPAction] {
        let count = configuration.flavor == .lmtp ? max(1, transaction?.recipients.count ?? 1) : 1
        return resolveMessage(recipients: Array(repeating: decision, count: count))
    }

    /// The driver's decision for each accepted recipient, in RCPT order (LMTP,
    /// [RFC 2033 §4.2](https://www.rfc-editor.org/rfc/rfc2033#section-4.2)): one reply each, so one
    /// recipient's failure leaves the others delivered. Missing decisions are answered 451 4.3.0 (never a
    /// 250 for a delivery nobody reported), extra ones are ignored. In SMTP the message gets one reply: the
    /// first refusal, or the first decision when all accept.
    public mutating func resolveMessage(recipients decisions: [SMTPDecision]) -> [SMTPAction] {
        guard !closed, case .message = pending else { return [] }
        pending = nil
        let accepted = transaction?.recipients.count ?? 0
        transaction = nil
        var replies: [SMTPDecision]
        if configuration.flavor == .lmtp {
            replies = Array(decisions.prefix(max(1, accepted)))
            while replies.count < max(1, accepted) { replies.append(.reject(.temporaryFailure)) }
        } else {
            let refusal = decisions.first { Self.acceptance($0, standard: .ok) == nil }
            replies = [refusal ?? decisions.first ?? .reject(.temporaryFailure)]
        }
        var out: [SMTPAction] = []
        if replies.contains(where: { Self.acceptance($0, standard: .ok) != nil }) {
            errorCount = 0  // like Postfix: the error limits count errors made without delivering mail
        }
        for decision in replies {
            guard !closed else { break }
            if let reply = Self.acceptance(decision, standard: .ok) {
                self.reply(reply, &out)
            } else {
                // A refused message is the server's trouble (disk full, a loop in the headers), not a client
                // error: it must not push a well-behaved MTA towards the error limits.
                self.reply(Self.refusal(decision), countsAsError: false, &out)
            }
        }
        resume(&out)
        return out
    }

    /// The driver's verdict on the pending ``SMTPAction/authenticate(_:)``: 235 2.7.0, 535 5.7.8 or
    /// 454 4.7.0 ([RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)). A failure counts as an
    /// error like any other; throttling further attempts (a delay before answering) is the driver's.
    public mutating func resolveAuthentication(_ result: SMTPAuthenticationResult) -> [SMTPAction] {
        guard !closed, case .authentication = pending else { return [] }
        pending = nil
        var out: [SMTPAction] = []
        switch result {
        case .success(let identity):
            authenticatedIdentity = identity
            reply(.authenticationSucceeded, &out)
        case .failure:
            reply(.authenticationInvalid, &out)
        case .temporaryFailure:
            reply(.authenticationTemporaryFailure, &out)
        }
        resume(&out)
        return out
    }

    /// The server is stopping. Idle: 421 4.3.2 and close now. While a message is being received or a
    /// decision is pending, the session goes on until that message (or decision) is answered, then says 421.
    public mutating func beginShutdown() -> [SMTPAction] {
        guard !closed else { return [] }
        isShutdownRequested = true
        var out: [SMTPAction] = []
        finishShutdownIfIdle(&out)
        return out
    }

    /// The client was silent too long: 421 4.4.2 and close (a message being received is aborted).
    public mutating func timedOut() -> [SMTPAction] {
        guard !closed else { return [] }
        var out: [SMTPAction] = []
        abortMessageIfBegun(&out)
        send(.timeout, &out)
        close(&out)
        return out
    }

    /// The TLS handshake that followed ``SMTPAction/startTLS`` completed. The session starts afresh
    /// ([RFC 3207 §4.2](https://www.rfc-editor.org/rfc/rfc3207#section-4.2)): the client must EHLO again.
    public mutating func tlsEstablished() {
        isTLSActive = true
        framer.discardBuffered()
    }

    // MARK: The command loop

    /// Processes buffered input until it runs out, a decision is needed, or the session closes.
    private mutating func run(_ out: inout [SMTPAction]) {
        while !closed && pending == nil {
            switch mode {
            case .command:
                guard let frame = framer.nextFrame() else {
                    finishShutdownIfIdle(&out)
                    return
                }
                handle(frame, &out)
            case .data, .chunk:
                guard framer.bufferedByteCount > 0 else { return }
                let buffered = framer.takeBuffered()
                let used = consumeContent(buffered[...], &out)
                if used < buffered.count { framer.append(buffered[used...]) }
            }
        }
    }

    mutating func resume(_ out: inout [SMTPAction]) {
        guard !closed else { return }
        if pendingInputOverflowed {
            pendingInputOverflowed = false
            abortMessageIfBegun(&out)
            send(.tooMuchPipelinedInput, &out)
            close(&out)
            return
        }
        run(&out)
    }

    private mutating func handle(_ frame: LineFramer.Frame, _ out: inout [SMTPAction]) {
        if authenticationExchange != nil {
            // A SASL response, not a command (RFC 4954 §4).
            guard !isShutdownRequested else {
                endAuthenticationExchange()
                send(.shuttingDown, &out)
                close(&out)
                return
            }
            return continueAuthentication(frame, &out)
        }
        let outcome: SMTPCommandParser.Outcome
        switch frame {
        case .tooLong:
            outcome = .failure(.lineTooLong)
        case .line(let line):
            outcome = parser.parse(line, allowsUTF8Recipient: transaction?.mailParameters.isSMTPUTF8 ?? false)
        }
        if isShutdownRequested {
            // Only the rest of a message already begun with BDAT may still come in.
            guard case .command(.bdat) = outcome, transaction?.messageState == .begun else {
                abortMessageIfBegun(&out)
                send(.shuttingDown, &out)
                close(&out)
                return
            }
        }
        switch outcome {
        case .failure(let reply):
            self.reply(reply, &out)
        case .command(let command):
            execute(command, &out)
        }
    }

    /// Runs one parsed command; each group lives in its own file (+Session, +Mail, +Data).
    private mutating func execute(_ command: SMTPCommand, _ out: inout [SMTPAction]) {
        switch command {
        case .ehlo(let name), .lhlo(let name): hello(name, isExtended: true, &out)
        case .helo(let name): hello(name, isExtended: false, &out)
        case .mail(let reversePath, let parameters): mail(reversePath, parameters, &out)
        case .rcpt(let address, let parameters): recipient(address, parameters, &out)
        case .data: data(&out)
        case .bdat(let size, let isLast): startChunk(size: size, isLast: isLast, &out)
        case .rset: reset(&out)
        case .noop: reply(.ok, &out)
        case .quit: quit(&out)
        case .vrfy: reply(configuration.isVRFYEnabled ? .cannotVerify : .verifyDisabled, &out)
        case .expn: reply(.expandDisabled, &out)
        case .help: reply(.help, &out)
        case .starttls: startTLS(&out)
        case .auth(let mechanism, let initialResponse): authenticate(mechanism, initialResponse, &out)
        case .etrn(let node): queueRun(node, &out)
        }
    }

    // MARK: Replies and closing

    /// Sends a reply to a command, counting errors and applying the error limits.
    mutating func reply(_ reply: SMTPReply, countsAsError: Bool = true, _ out: inout [SMTPAction]) {
        if errorCount >= configuration.limits.softErrorLimit {
            out.append(.delay(milliseconds: configuration.limits.errorDelayMilliseconds))
        }
        out.append(.send(reply))
        guard reply.isError, countsAsError else { return }
        errorCount += 1
        if errorCount >= configuration.limits.hardErrorLimit {
            abortMessageIfBegun(&out)
            send(.tooManyErrors, &out)
            close(&out)
        }
    }

    /// The reply that ends a message without storing it (too big, a line too long): in LMTP once per
    /// accepted recipient, since the client waits for that many (RFC 2033 §4.2); counted as one error.
    mutating func finalRefusal(_ refusal: SMTPReply, recipients: Int, _ out: inout [SMTPAction]) {
        let count = configuration.flavor == .lmtp ? max(1, recipients) : 1
        for index in 0..<count where !closed {
            reply(refusal, countsAsError: index == 0, &out)
        }
    }

    /// 503 for MAIL or AUTH before the greeting command (HELO/EHLO, or LHLO in LMTP).
    var needHello: SMTPReply { configuration.flavor == .lmtp ? .needLHLO : .needHello }

    /// Sends without counting (greeting-time and closing replies).
    func send(_ reply: SMTPReply, _ out: inout [SMTPAction]) {
        out.append(.send(reply))
    }

    mutating func close(_ out: inout [SMTPAction]) {
        guard !closed else { return }
        closed = true
        out.append(.close)
        pending = nil
        mode = .command
        authenticationExchange = nil
        framer.discardBuffered()
    }

    mutating func abortMessageIfBegun(_ out: inout [SMTPAction]) {
        guard transaction?.messageState == .begun else { return }
        transaction?.messageState = .finished
        out.append(.abortMessage)
    }

    mutating func finishShutdownIfIdle(_ out: inout [SMTPAction]) {
        guard isShutdownRequested, !closed, pending == nil, case .command = mode,
            transaction?.messageState != .begun
        else { return }
        send(.shuttingDown, &out)
        close(&out)
    }

    /// The reply for an accepting decision, or nil when the decision refuses.
    static func acceptance(_ decision: SMTPDecision, standard: SMTPReply) -> SMTPReply? {
        switch decision {
        case .accept: standard
        case .acceptReplying(let reply): reply.isPositive ? reply : nil
        case .reject: nil
        }
    }

    static func refusal(_ decision: SMTPDecision) -> SMTPReply {
        switch decision {
        case .reject(let reply), .acceptReplying(let reply): reply
        case .accept: .temporaryFailure
        }
    }
}
