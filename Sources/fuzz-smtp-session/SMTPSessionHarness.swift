// SMTPSessionHarness: one SMTP session driven by a fuzzer input. The header picks the configuration, the
// policy and the read sizes; the payload is what the client sends. Checks every reply's wire form, the
// message lifecycle (begin, append, commit or abort), pausing, the bound on buffered input, and (flag 9)
// SMTP AUTH: the SASL decoders, when credentials reach the driver, and the identity in envelopes.

import PostOfficeCore
import PostOfficeFuzzSupport
import PostOfficeSMTP

struct SMTPSessionHarness {
    /// Bytes 0 and 1 are flags, 2...5 the read sizes.
    static let headerCount = 6

    private enum Decision {
        case sender(MailAddress?)
        case recipient(MailAddress)
        case message
        case authentication(PlainCredentials)
        case queueRun(SMTPQueueNode)
    }

    private let input: FuzzInput
    /// Everything in one read and decisions answered at once (the reference run of the split check).
    private let usesWholeReads: Bool
    /// What the session did, with message content joined: must not depend on how input was split.
    private(set) var transcript: [String] = []
    private let configuration: SMTPServerConfiguration
    private var machine: SMTPServerStateMachine
    private var pendingDecision: Decision?
    private var sawClose = false
    /// The message being received (between beginMessage and commit/abort), and whether it came by DATA.
    private var openMessage: [UInt8]?
    private var openMessageIsData = false
    private var lastSendWasStartMailInput = false
    private var acceptedSenders: [MailAddress?] = []
    private var acceptedRecipients: Set<MailAddress> = []
    /// The largest read so far: input pipelined in the read that paused the engine is kept beyond the cap.
    private var largestRead = 0

    init(input: FuzzInput, usesWholeReads: Bool = false) {
        self.input = input
        self.usesWholeReads = usesWholeReads
        var limits = Limits()
        if input.flag(5) { limits.maximumMessageSize = 100 }
        if input.flag(6) {
            limits.rejectLongTextLines = true
            limits.smtpTextLineLength = 20
        }
        if input.flag(12) {
            limits.softErrorLimit = 2
            limits.hardErrorLimit = 5
            limits.maximumRecipients = 2
        }
        if input.flag(13) { limits.smtpCommandLineLength = 40 }
        var configuration = SMTPServerConfiguration(hostname: "mx.fuzz.example", limits: limits)
        configuration.isPipeliningEnabled = !input.flag(0)
        configuration.isChunkingEnabled = !input.flag(1)
        configuration.isSTARTTLSAvailable = input.flag(2)
        configuration.isSMTPUTF8Enabled = !input.flag(14)
        configuration.is8BitMIMEEnabled = !input.flag(15)
        configuration.maximumPendingInput = input.flag(4) ? 200 : 1 << 20
        // ETRN for one domain: from a trusted client without AUTH configured, else after AUTH.
        configuration.queueRunDomains = ["relay.fuzz.example"]
        configuration.allowsQueueRunWithoutAuthentication = !input.flag(9)
        if input.flag(9) {
            // AUTH PLAIN LOGIN; without STARTTLS in the clear too. Flags 5 and 6 double as submission
            // (MAIL needs AUTH) and proxy logins (an authorization identity of its own).
            configuration.authenticationMechanisms = [.plain, .login]
            configuration.allowsAuthenticationWithoutTLS = !input.flag(2)
            configuration.requiresAuthentication = input.flag(5)
            configuration.allowsAuthorizationIdentity = input.flag(6)
            configuration.maximumAuthenticationResponseLength = input.flag(13) ? 64 : 12288
        }
        self.configuration = configuration
        machine = SMTPServerStateMachine(configuration: configuration)
    }

    private var defersDecisions: Bool { input.flag(3) && !usesWholeReads }

    /// Whether the transcript should be the same for any split: not when STARTTLS drops what was buffered,
    /// the pending-input cap is small, or shutdown and early-talker events are tied to read boundaries.
    var isSplitInvariant: Bool { !input.flag(2) && !input.flag(4) && !input.flag(10) && !input.flag(11) }

    mutating func run() {
        var chunks = FuzzInput.chunks(of: input.payload, seeds: usesWholeReads ? [0] : Array(input.header[2...]))
        if input.flag(11), !chunks.isEmpty {
            // An early talker: bytes before the greeting end the session.
            perform(machine.receiveBeforeGreeting(chunks.removeFirst()), context: "early")
            precondition(machine.isClosed, "early talker not closed")
        }
        perform(machine.start(), context: "start")
        for (index, chunk) in chunks.enumerated() {
            feed(chunk)
            if input.flag(10) && index == chunks.count / 2 { perform(machine.beginShutdown(), context: "shutdown") }
        }
        answerPendingDecision(all: true)
        if input.flag(7) {
            perform(machine.beginShutdown(), context: "final shutdown")
            answerPendingDecision(all: true)
        } else {
            perform(machine.timedOut(), context: "timeout")
            precondition(machine.isClosed, "not closed after timeout")
        }
        if machine.isClosed {
            precondition(openMessage == nil, "closed with a message neither committed nor aborted")
            precondition(machine.receive(Array("NOOP\r\n".utf8)).isEmpty, "answer after close")
        }
    }

    private mutating func feed(_ chunk: ArraySlice<UInt8>) {
        let wasClosed = machine.isClosed
        let wasPaused = machine.isAwaitingDecision
        largestRead = max(largestRead, chunk.count)
        let actions = machine.receive(chunk)
        if wasClosed {
            precondition(actions.isEmpty, "actions after close")
            return
        }
        if wasPaused { precondition(actions.isEmpty, "answered while paused: \(actions)") }
        perform(actions, context: "receive")
        if !defersDecisions || wasPaused { answerPendingDecision(all: !defersDecisions) }
        checkBuffer()
    }

    /// Buffered input is bounded: a partial command line when running; when paused, what the pausing read
    /// brought (it may hold many pipelined commands) plus the pending-input cap.
    private func checkBuffer() {
        guard !machine.isClosed else { return }
        var lineLimit = configuration.limits.smtpCommandLineLength
        // A SASL response line has its own bound.
        if !configuration.authenticationMechanisms.isEmpty {
            lineLimit = max(lineLimit, configuration.maximumAuthenticationResponseLength)
        }
        if machine.isAwaitingDecision {
            precondition(machine.bufferedByteCount <= max(configuration.maximumPendingInput, largestRead + lineLimit),
                "buffered \(machine.bufferedByteCount) bytes while paused")
        } else {
            precondition(machine.bufferedByteCount <= lineLimit, "buffered \(machine.bufferedByteCount) bytes while running")
        }
    }

    private mutating func answerPendingDecision(all: Bool) {
        while let decision = pendingDecision {
            pendingDecision = nil
            let actions: [SMTPAction]
            switch decision {
            case .sender(let address):
                if address?.localPart == "bad" {
                    actions = machine.resolveSender(.reject(.senderRejected))
                } else {
                    actions = machine.resolveSender(.accept)
                    acceptedSenders.append(address)
                }
            case .recipient(let address):
                if address.localPart.hasPrefix("x") {
                    actions = machine.resolveRecipient(.reject(.unknownUser))
                } else if address.localPart.hasPrefix("t") {
                    actions = machine.resolveRecipient(.reject(.temporaryFailure))
                } else {
                    actions = machine.resolveRecipient(.accept)
                    acceptedRecipients.insert(address)
                }
            case .authentication(let credentials):
                // `x…` users are refused, `t…` users meet an unavailable verifier, others need a password.
                let user = credentials.authenticationIdentity
                if user.hasPrefix("t") {
                    actions = machine.resolveAuthentication(.temporaryFailure)
                } else if user.hasPrefix("x") || credentials.password.isEmpty {
                    actions = machine.resolveAuthentication(.failure)
                } else {
                    let identity = credentials.authorizationIdentity.isEmpty ? user : credentials.authorizationIdentity
                    actions = machine.resolveAuthentication(.success(identity: identity))
                    precondition(machine.isClosed || machine.authenticatedIdentity == identity, "identity not kept")
                    precondition(actions.first == .send(.authenticationSucceeded)
                        || actions.first == .delay(milliseconds: configuration.limits.errorDelayMilliseconds),
                        "no 235 after success: \(actions)")
                }
            case .queueRun:
                actions = machine.resolveQueueRun(input.flag(8)
                    ? .reject(.queueRunUnavailable("relay.fuzz.example", reason: "fuzz")) : .accept)
            case .message:
                if input.flag(8) {
                    actions = machine.resolveMessage(.reject(.temporaryFailure))
                } else {
                    actions = machine.resolveMessage(.acceptReplying(.messageAccepted(id: "FUZZ1")))
                }
            }
            perform(actions, context: "decision")
            checkBuffer()
            if !all { return }
        }
    }

    private mutating func perform(_ actions: [SMTPAction], context: String) {
        for (index, action) in actions.enumerated() {
            let isLast = index == actions.count - 1
            precondition(!sawClose, "action after close (\(context)): \(action)")
            switch action {
            case .send(let reply):
                checkReply(reply)
                transcript.append("send \(reply)")
                lastSendWasStartMailInput = reply.code == 354
            case .delay(let milliseconds):
                precondition(milliseconds >= 0 && !isLast, "delay without a following reply")
                transcript.append("delay \(milliseconds)")
            case .checkSender(let address, let parameters):
                precondition(isLast && pendingDecision == nil, "checkSender out of place")
                if let address { checkAddress(address) }
                if let size = parameters.size { precondition(size >= 0, "negative SIZE") }
                if let id = parameters.envelopeID { precondition(isClean(id), "ENVID with control characters") }
                if let submitter = parameters.submitter {
                    precondition(!configuration.authenticationMechanisms.isEmpty, "AUTH= accepted without AUTH")
                    precondition(isClean(submitter) && !submitter.isEmpty, "AUTH= with control characters")
                }
                precondition(!configuration.requiresAuthentication || machine.authenticatedIdentity != nil,
                    "MAIL accepted for checking without AUTH on a submission service")
                pendingDecision = .sender(address)
                transcript.append("checkSender \(String(describing: address)) \(parameters)")
            case .checkRecipient(let address, let parameters):
                transcript.append("checkRecipient \(address) \(parameters)")
                precondition(isLast && pendingDecision == nil, "checkRecipient out of place")
                checkAddress(address)
                pendingDecision = .recipient(address)
            case .beginMessage(let envelope):
                precondition(openMessage == nil, "beginMessage while a message is open")
                precondition(!envelope.recipients.isEmpty, "message without recipients")
                precondition(envelope.recipients.allSatisfy { acceptedRecipients.contains($0) },
                    "envelope holds a recipient the policy did not accept")
                precondition(acceptedSenders.contains(envelope.reversePath), "envelope sender was never accepted")
                precondition(envelope.recipientParameters.count == envelope.recipients.count, "parameter count")
                precondition(envelope.authenticatedIdentity == machine.authenticatedIdentity, "envelope identity")
                transcript.append("begin \(envelope)")
                openMessage = []
                openMessageIsData = lastSendWasStartMailInput
            case .appendMessage(let bytes):
                precondition(openMessage != nil, "appendMessage without beginMessage")
                precondition(!bytes.isEmpty, "empty append")
                openMessage? += bytes
                precondition((openMessage?.count ?? 0) <= configuration.limits.maximumMessageSize,
                    "stored more than the size limit")
            case .commitMessage:
                precondition(isLast && pendingDecision == nil, "commitMessage out of place")
                guard let message = openMessage else { preconditionFailure("commitMessage without beginMessage") }
                if openMessageIsData { checkDataContent(message) }
                transcript.append("commit \(message)")
                openMessage = nil
                pendingDecision = .message
            case .abortMessage:
                precondition(openMessage != nil, "abortMessage without beginMessage")
                transcript.append("abort")
                openMessage = nil
            case .startQueueRun(let node):
                precondition(isLast && pendingDecision == nil, "startQueueRun out of place")
                precondition(configuration.allowsQueueRunWithoutAuthentication || machine.authenticatedIdentity != nil,
                    "ETRN allowed without AUTH from an untrusted client")
                switch node {
                case .domain(let name), .domainAndSubdomains(let name):
                    precondition(configuration.queueRunDomains.contains(name), "ETRN for a domain not allowed")
                case .queue: preconditionFailure("ETRN #queue reached the driver")
                }
                transcript.append("startQueueRun \(node)")
                pendingDecision = .queueRun(node)
            case .authenticate(let credentials):
                precondition(isLast && pendingDecision == nil, "authenticate out of place")
                precondition(configuration.offersAuthentication(isTLSActive: machine.isTLSActive),
                    "authenticate while AUTH is not offered")
                precondition(machine.authenticatedIdentity == nil, "authenticate after a successful AUTH")
                precondition(openMessage == nil, "authenticate inside a message")
                let authorization = credentials.authorizationIdentity
                precondition(configuration.allowsAuthorizationIdentity || authorization.isEmpty
                    || authorization == credentials.authenticationIdentity, "foreign authorization identity passed on")
                precondition(!credentials.authenticationIdentity.utf8.contains(0) && !credentials.password.utf8.contains(0),
                    "NUL in credentials")
                transcript.append("authenticate \(credentials)")
                pendingDecision = .authentication(credentials)
            case .startTLS:
                precondition(configuration.isSTARTTLSAvailable, "startTLS without STARTTLS")
                precondition(index > 0 && actions[index - 1] == .send(.readyToStartTLS), "startTLS without 220 first")
                precondition(openMessage == nil, "startTLS inside a message")
                machine.tlsEstablished()
                precondition(machine.authenticatedIdentity == nil, "AUTH survived STARTTLS")
            case .close:
                precondition(isLast && machine.isClosed, "close out of place")
                transcript.append("close")
                sawClose = true
            }
        }
        if pendingDecision != nil {
            precondition(machine.isAwaitingDecision || machine.isClosed, "decision emitted but engine not paused")
        } else if !machine.isClosed {
            precondition(!machine.isAwaitingDecision, "engine paused without a decision")
        }
    }

    /// `ddd-text CRLF` ... `ddd text CRLF`: codes 2xx-5xx, same code on every line, no CR or LF in a text.
    private func checkReply(_ reply: SMTPReply) {
        precondition((200...599).contains(reply.code), "reply code \(reply.code)")
        let wire = reply.wireBytes
        precondition(wire.suffix(2) == [13, 10], "reply without CRLF")
        let lines = wire.split(separator: 10, omittingEmptySubsequences: true)
        precondition(lines.count == max(1, reply.lines.count), "reply line count differs: \(reply)")
        for (index, line) in lines.enumerated() {
            precondition(line.last == 13 && !line.dropLast().contains(13), "bare CR in a reply line")
            precondition(line.count >= 5 && line.prefix(3).elementsEqual(String(reply.code).utf8), "reply code prefix")
            let separator = line[line.startIndex + 3]
            precondition(separator == (index == lines.count - 1 ? 32 : 45), "reply continuation marker")
            precondition(line.count <= 512, "reply line longer than 512 octets")
        }
    }

    /// An address handed to the policy: both parts present, no control characters (RFC 5321 §4.1.2), and
    /// no longer than the command line that carried it. RFC 5321 §4.5.3.1's 64 and 256 octets are sizes a
    /// server MUST accept at least, not caps; like Postfix, the engine takes longer paths that fit the line
    /// (an earlier bound of 256 bytes for the local part was this harness's assumption, found by CI's fuzz run).
    private func checkAddress(_ address: MailAddress) {
        precondition(!address.localPart.isEmpty && !address.domain.isEmpty, "empty address part")
        precondition(isClean(address.localPart) && isClean(address.domain), "control characters in address \(address)")
        precondition(!address.domain.contains("@"), "domain with @")
        precondition(address.localPart.utf8.count + address.domain.utf8.count <= configuration.limits.smtpCommandLineLength,
                     "address longer than its command line")
    }

    /// DATA content: every line ends with CRLF and no line is a lone "." (the end marker never leaks in).
    private func checkDataContent(_ message: [UInt8]) {
        precondition(message.isEmpty || message.suffix(2) == [13, 10], "DATA content does not end with CRLF")
        for index in message.indices where message[index] == 10 {
            precondition(index > 0 && message[index - 1] == 13, "bare LF in DATA content")
        }
    }

    private func isClean(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }
}
