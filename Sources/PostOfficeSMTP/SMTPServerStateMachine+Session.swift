// SMTPServerStateMachine+Session: the commands about the session rather than a message: HELO/EHLO, RSET,
// QUIT, STARTTLS and AUTH (NOOP, HELP, VRFY and EXPN are one-line replies in the dispatch).

import PostOfficeCore

extension SMTPServerStateMachine {
    /// EHLO or HELO ([RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1)).
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
    }

    /// AUTH ([RFC 4954](https://www.rfc-editor.org/rfc/rfc4954)): not offered, and SMTPCapabilities never
    /// lists it. Issue 13: run a SASLServerExchange here once a verifier is configured.
    mutating func authenticate(_ out: inout [SMTPAction]) {
        reply(.commandNotImplemented, &out)
    }
}
