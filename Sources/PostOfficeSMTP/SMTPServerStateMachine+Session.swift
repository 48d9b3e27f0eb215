// SMTPServerStateMachine+Session: the commands about the session rather than a message: HELO/EHLO, RSET,
// QUIT, STARTTLS and AUTH (NOOP, HELP, VRFY and EXPN are one-line replies in the dispatch).

import PostOfficeCore
import PostOfficeSASL

extension SMTPServerStateMachine {
    /// EHLO or HELO ([RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1)), or
    /// LHLO in LMTP ([RFC 2033 §4.1](https://www.rfc-editor.org/rfc/rfc2033#section-4.1)).
    mutating func hello(_ name: String, isExtended: Bool, _ out: inout [SMTPAction]) {
        // RFC 5321 §4.1.4: EHLO/HELO in a session resets any transaction.
        abortMessageIfBegun(&out)
        transaction = nil
        heloName = name
        self.isExtended = isExtended
        if isExtended {
            reply(capabilities.extendedHelloReply(hostname: configuration.hostname), &out)
        } else {
            reply(SMTPReply(250, nil, configuration.hostname), &out)
        }
    }

    /// RSET ([RFC 5321 §4.1.1.5](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.5)).
    mutating func reset(_ out: inout [SMTPAction]) {
        abortMessageIfBegun(&out)
        transaction = nil
        reply(.ok, &out)
    }

    /// QUIT ([RFC 5321 §4.1.1.10](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.10)).
    mutating func quit(_ out: inout [SMTPAction]) {
        abortMessageIfBegun(&out)
        send(.closing, &out)
        close(&out)
    }

    /// STARTTLS ([RFC 3207 §4](https://www.rfc-editor.org/rfc/rfc3207#section-4)).
    mutating func startTLS(_ out: inout [SMTPAction]) {
        guard configuration.isSTARTTLSAvailable, !isTLSActive else { return reply(.commandNotImplemented, &out) }
        guard transaction == nil else { return reply(.badSequence, &out) }
        reply(.readyToStartTLS, &out)
        guard !closed else { return }
        out.append(.startTLS)
        // RFC 3207 §4.2/§5: forget everything, including input pipelined after STARTTLS in plain text.
        framer.discardBuffered()
        heloName = nil
        isExtended = false
        authenticatedIdentity = nil
    }

    /// AUTH ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)): runs a SASL exchange (334
    /// challenges, response lines up to `maximumAuthenticationResponseLength`), then pauses on
    /// ``SMTPAction/authenticate(_:)`` until the driver's ``resolveAuthentication(_:)``.
    mutating func authenticate(_ mechanismName: String, _ initialResponse: String?, _ out: inout [SMTPAction]) {
        guard !configuration.authenticationMechanisms.isEmpty else { return reply(.commandNotImplemented, &out) }
        guard heloName != nil else { return reply(needHello, &out) }
        guard authenticatedIdentity == nil else { return reply(.alreadyAuthenticated, &out) }
        guard transaction == nil else { return reply(.authenticationInTransaction, &out) }
        // PLAIN and LOGIN carry the password in the clear: not before TLS unless configured (RFC 4954 §4, §6).
        guard configuration.offersAuthentication(isTLSActive: isTLSActive) else {
            return reply(.encryptionRequiredForAuthentication, &out)
        }
        guard let mechanism = SASLMechanism(name: mechanismName),
            configuration.authenticationMechanisms.contains(mechanism)
        else { return reply(.unknownAuthenticationMechanism, &out) }
        var exchange = SASLServerExchange(mechanism: mechanism)
        let step = exchange.start(initialResponse: initialResponse.map { Array($0.utf8) })
        advanceAuthentication(exchange, step, &out)
    }

    /// One response line of the exchange in progress (or the over-long remains of one).
    mutating func continueAuthentication(_ frame: LineFramer.Frame, _ out: inout [SMTPAction]) {
        guard var exchange = authenticationExchange else { return }
        switch frame {
        case .tooLong:
            // RFC 4954 §4: a line longer than the authentication buffer fails AUTH with 500 5.5.6. The framer
            // drops the rest of the line, so none of it is read as a command.
            endAuthenticationExchange()
            reply(.authenticationLineTooLong, &out)
        case .line(let line):
            let step = exchange.receive(line)
            advanceAuthentication(exchange, step, &out)
        }
    }

    private mutating func advanceAuthentication(
        _ exchange: SASLServerExchange, _ step: SASLServerExchange.Step, _ out: inout [SMTPAction]
    ) {
        switch step {
        case .challenge(let challenge):
            authenticationExchange = exchange
            framer.maximumLineLength = configuration.maximumAuthenticationResponseLength
            reply(.authenticationChallenge(challenge), &out)
        case .credentials(let credentials):
            endAuthenticationExchange()
            let authorization = credentials.authorizationIdentity
            guard authorization.isEmpty || authorization == credentials.authenticationIdentity
                || configuration.allowsAuthorizationIdentity
            else { return reply(.authenticationInvalid, &out) }
            pending = .authentication
            out.append(.authenticate(credentials))
        case .failure(let failure):
            endAuthenticationExchange()
            reply(Self.authenticationRefusal(failure), &out)
        }
    }

    /// Back to command lines, under the command line limit.
    mutating func endAuthenticationExchange() {
        authenticationExchange = nil
        framer.maximumLineLength = configuration.limits.smtpCommandLineLength
    }

    /// The reply to an exchange that ended without credentials (RFC 4954 §4).
    static func authenticationRefusal(_ failure: SASLFailure) -> SMTPReply {
        switch failure {
        case .cancelled: .authenticationCancelled
        case .invalidBase64: .authenticationBadBase64
        // Decoded but not a PLAIN message or a UTF-8 name: as bad as a wrong password.
        case .malformedMessage, .unexpectedStep: .authenticationInvalid
        }
    }
}
