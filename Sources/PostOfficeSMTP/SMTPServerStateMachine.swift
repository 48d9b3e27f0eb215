// SMTPServerStateMachine: the sans-I/O SMTP server session. Bytes in, actions out; no sockets, clocks or files.
// The driver performs the actions in order and answers the checks it is asked (sender, recipient, commit).

import PostOfficeCore

/// One SMTP server session ([RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)) as a state machine.
///
/// The driver calls ``start()`` when the connection opens, ``receive(_:)`` with every read, and carries
/// out the returned ``SMTPAction``s in order. `checkSender`, `checkRecipient` and `commitMessage` pause the
/// engine: until the matching `resolve…` call, input is only buffered (bounded by
/// ``SMTPServerConfiguration/maximumPendingInput``), and the resolve call goes on with the buffered input, so
/// pipelined commands ([RFC 2920](https://www.rfc-editor.org/rfc/rfc2920)) are answered in order.
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
    public private(set) var isTLSActive = false
    /// Errors counted so far (see the type's discussion).
    public private(set) var errorCount = 0
    /// The HELO/EHLO name, once given.
    public private(set) var heloName: String?

    private enum Mode: Sendable {
        case command
        case data(SMTPDataDecoder)
        case chunk(Chunk)
    }

    /// A BDAT chunk being read. With a `failure`, its bytes are read and thrown away and `failure` is the
    /// reply (RFC 3030 §2: the chunk must still be consumed).
    private struct Chunk: Sendable {
        var size: Int
        var remaining: Int
        var isLast: Bool
        var failure: SMTPReply?
    }

    private enum Pending: Sendable {
        case sender(MailAddress?, MailParameters)
        case recipient(MailAddress, RecipientParameters)
        case message
    }

    private enum MessageState: Sendable {
        case notBegun
        /// beginMessage was emitted and neither commitMessage nor abortMessage yet.
        case begun
        case finished
    }

    private struct Transaction: Sendable {
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

    private let parser: SMTPCommandParser
    private var framer: LineFramer
    private var mode = Mode.command
    private var pending: Pending?
    private var transaction: Transaction?
    private var isExtended = false
    private var hasStarted = false
    private var closed = false
    private var isShutdownRequested = false
    private var pendingInputOverflowed = false

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
        let text = configuration.greeting ?? "\(configuration.hostname) ESMTP PostOffice"
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
    /// names it) or failed to (`.reject(.temporaryFailure)`). The transaction ends either way.
    public mutating func resolveMessage(_ decision: SMTPDecision) -> [SMTPAction] {
        guard !closed, case .message = pending else { return [] }
        pending = nil
        transaction = nil
        var out: [SMTPAction] = []
        if let reply = Self.acceptance(decision, standard: .ok) {
            errorCount = 0  // like Postfix: the error limits count errors made without delivering mail
            self.reply(reply, &out)
        } else {
            // A refused message is the server's trouble (disk full, a loop in the headers), not a client
            // error: it must not push a well-behaved MTA towards the error limits.
            self.reply(Self.refusal(decision), countsAsError: false, &out)
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

    private mutating func resume(_ out: inout [SMTPAction]) {
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

    private mutating func execute(_ command: SMTPCommand, _ out: inout [SMTPAction]) {
        switch command {
        case .ehlo(let name), .helo(let name):
            // RFC 5321 §4.1.4: EHLO/HELO in a session resets any transaction.
            abortMessageIfBegun(&out)
            transaction = nil
            heloName = name
            if case .ehlo = command {
                isExtended = true
                reply(capabilities.extendedHelloReply(hostname: configuration.hostname), &out)
            } else {
                isExtended = false
                reply(SMTPReply(250, nil, configuration.hostname), &out)
            }
        case .mail(let reversePath, let parameters):
            guard heloName != nil else { return reply(.needHello, &out) }
            guard transaction == nil else { return reply(.nestedMail, &out) }
            pending = .sender(reversePath, parameters)
            out.append(.checkSender(reversePath, parameters))
        case .rcpt(let address, let parameters):
            guard transaction != nil else { return reply(.needMail, &out) }
            guard transaction?.messageState == .notBegun else { return reply(.badSequence, &out) }
            transaction?.recipientAttempts += 1
            guard (transaction?.recipients.count ?? 0) < configuration.limits.maximumRecipients else {
                return reply(.tooManyRecipients, &out)
            }
            pending = .recipient(address, parameters)
            out.append(.checkRecipient(address, parameters))
        case .data:
            guard let current = transaction else { return reply(.needMail, &out) }
            // RFC 3030 §3: no DATA after BDAT, and BINARYMIME content only with BDAT.
            guard !current.usesChunking, current.mailParameters.body != .binaryMIME else {
                return reply(.dataNotAllowed, &out)
            }
            guard !current.recipients.isEmpty else {
                return reply(current.recipientAttempts == 0 ? .needRecipient : .noValidRecipients, &out)
            }
            reply(.startMailInput, &out)
            guard !closed else { return }
            out.append(.beginMessage(envelope(current)))
            transaction?.messageState = .begun
            let lineLimit = configuration.limits.rejectLongTextLines ? configuration.limits.smtpTextLineLength : nil
            mode = .data(
                SMTPDataDecoder(
                    maximumMessageSize: configuration.limits.maximumMessageSize, maximumLineLength: lineLimit))
        case .bdat(let size, let isLast):
            startChunk(size: size, isLast: isLast, &out)
        case .rset:
            abortMessageIfBegun(&out)
            transaction = nil
            reply(.ok, &out)
        case .noop:
            reply(.ok, &out)
        case .quit:
            abortMessageIfBegun(&out)
            send(.closing, &out)
            close(&out)
        case .vrfy:
            reply(configuration.isVRFYEnabled ? .cannotVerify : .verifyDisabled, &out)
        case .expn:
            reply(.expandDisabled, &out)
        case .help:
            reply(.help, &out)
        case .starttls:
            guard configuration.isSTARTTLSAvailable, !isTLSActive else { return reply(.commandNotImplemented, &out) }
            guard transaction == nil else { return reply(.badSequence, &out) }
            reply(.readyToStartTLS, &out)
            guard !closed else { return }
            out.append(.startTLS)
            // RFC 3207 §4.2/§5: forget everything, including input pipelined after STARTTLS in plain text.
            framer.discardBuffered()
            heloName = nil
            isExtended = false
        case .auth:
            // Not offered (SMTPCapabilities never lists AUTH). Issue 13: run a SASLServerExchange here.
            reply(.commandNotImplemented, &out)
        }
    }

    // MARK: Message content

    private mutating func startChunk(size: Int, isLast: Bool, _ out: inout [SMTPAction]) {
        var failure: SMTPReply?
        if !configuration.isChunkingEnabled {
            failure = .commandNotImplemented
        } else if let current = transaction {
            if current.recipients.isEmpty {
                failure = current.recipientAttempts == 0 ? .needRecipient : .noValidRecipients
            } else if size > configuration.limits.maximumMessageSize - current.chunkedOctets {
                // Known before reading: drop what was stored, read the chunk, then refuse. The transaction
                // is over (RFC 3030 §2); pipelined chunks after it get 503.
                failure = .messageTooBig
                abortMessageIfBegun(&out)
                transaction = nil
            }
        } else {
            failure = .needMail
        }
        if failure == nil, let current = transaction {
            if current.messageState == .notBegun {
                out.append(.beginMessage(envelope(current)))
                transaction?.messageState = .begun
                transaction?.usesChunking = true
            }
            transaction?.chunkedOctets += size
        }
        mode = .chunk(Chunk(size: size, remaining: size, isLast: isLast, failure: failure))
        if size == 0 { finishChunk(&out) }
    }

    /// Feeds message content to the DATA decoder or the BDAT chunk; returns how many bytes it used.
    private mutating func consumeContent(_ input: ArraySlice<UInt8>, _ out: inout [SMTPAction]) -> Int {
        switch mode {
        case .command:
            return 0
        case .data(var decoder):
            let hadFailed = decoder.hasFailed
            let output = decoder.decode(input)
            mode = .data(decoder)
            if decoder.hasFailed {
                // Content is useless once a limit is passed: no append, just the abort (once).
                if !hadFailed { abortMessageIfBegun(&out) }
            } else if !output.content.isEmpty {
                out.append(.appendMessage(output.content))
            }
            if output.isComplete { finishData(decoder, &out) }
            return output.consumedCount
        case .chunk(var chunk):
            let count = min(chunk.remaining, input.count)
            if chunk.failure == nil && count > 0 { out.append(.appendMessage(Array(input.prefix(count)))) }
            chunk.remaining -= count
            mode = .chunk(chunk)
            if chunk.remaining == 0 { finishChunk(&out) }
            return count
        }
    }

    private mutating func finishData(_ decoder: SMTPDataDecoder, _ out: inout [SMTPAction]) {
        mode = .command
        if decoder.isOversize {
            transaction = nil
            reply(.messageTooBig, &out)
        } else if decoder.hasOverlongLine {
            transaction = nil
            reply(.lineTooLong, &out)
        } else {
            transaction?.messageState = .finished
            pending = .message
            out.append(.commitMessage)
        }
    }

    private mutating func finishChunk(_ out: inout [SMTPAction]) {
        guard case .chunk(let chunk) = mode else { return }
        mode = .command
        if let failure = chunk.failure {
            reply(failure, &out)
        } else if chunk.isLast {
            transaction?.messageState = .finished
            pending = .message
            out.append(.commitMessage)
        } else {
            reply(.chunkReceived(octets: chunk.size), &out)
        }
    }

    private func envelope(_ transaction: Transaction) -> SMTPEnvelope {
        SMTPEnvelope(
            heloName: heloName ?? "", isExtended: isExtended, reversePath: transaction.reversePath,
            recipients: transaction.recipients, mailParameters: transaction.mailParameters,
            recipientParameters: transaction.recipientParameters)
    }

    // MARK: Replies and closing

    /// Sends a reply to a command, counting errors and applying the error limits.
    private mutating func reply(_ reply: SMTPReply, countsAsError: Bool = true, _ out: inout [SMTPAction]) {
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

    /// Sends without counting (greeting-time and closing replies).
    private func send(_ reply: SMTPReply, _ out: inout [SMTPAction]) {
        out.append(.send(reply))
    }

    private mutating func close(_ out: inout [SMTPAction]) {
        guard !closed else { return }
        closed = true
        out.append(.close)
        pending = nil
        mode = .command
        framer.discardBuffered()
    }

    private mutating func abortMessageIfBegun(_ out: inout [SMTPAction]) {
        guard transaction?.messageState == .begun else { return }
        transaction?.messageState = .finished
        out.append(.abortMessage)
    }

    private mutating func finishShutdownIfIdle(_ out: inout [SMTPAction]) {
        guard isShutdownRequested, !closed, pending == nil, case .command = mode,
            transaction?.messageState != .begun
        else { return }
        send(.shuttingDown, &out)
        close(&out)
    }

    /// The reply for an accepting decision, or nil when the decision refuses.
    private static func acceptance(_ decision: SMTPDecision, standard: SMTPReply) -> SMTPReply? {
        switch decision {
        case .accept: standard
        case .acceptReplying(let reply): reply.isPositive ? reply : nil
        case .reject: nil
        }
    }

    private static func refusal(_ decision: SMTPDecision) -> SMTPReply {
        switch decision {
        case .reject(let reply), .acceptReplying(let reply): reply
        case .accept: .temporaryFailure
        }
    }
}
