// The session steps of SMTPClientStateMachine: greeting, EHLO with HELO fallback, STARTTLS per policy with a
// fresh EHLO after the handshake, and AUTH PLAIN/LOGIN over TLS. They end in readyForMessage or a failure.

import PostOfficeCore
import PostOfficeSASL
import PostOfficeSMTP

extension SMTPClientStateMachine {
    /// The TLS handshake that followed ``SMTPClientAction/startTLS(verifyingCertificate:)`` completed: the
    /// session starts over with EHLO ([RFC 3207 §4.2](https://www.rfc-editor.org/rfc/rfc3207#section-4.2)).
    public mutating func tlsEstablished() -> [SMTPClientAction] {
        guard isAwaitingTLS else { return [] }
        var out: [SMTPClientAction] = []
        isTLSActive = true
        extensions = nil
        phase = .session
        send(.ehlo(configuration.clientName), expecting: .ehlo, &out)
        return out
    }

    /// The TLS handshake that followed ``SMTPClientAction/startTLS(verifyingCertificate:)`` failed — the server's
    /// certificate did not verify, or the handshake broke off — for `reason` (OpenSSL's words, for the log and
    /// the DSN). The session ends with 4.7.5 (RFC 3463: cryptographic failure): a temporary failure, as Postfix
    /// treats an untrusted certificate under `verify`; the driver then closes the connection.
    public mutating func tlsFailed(_ reason: String) -> [SMTPClientAction] {
        guard isAwaitingTLS else { return [] }
        var out: [SMTPClientAction] = []
        abandon(.local(EnhancedStatusCode(4, 7, 5), "TLS handshake failed: \(reason)"), at: .startTLS, sendsQuit: false, &out)
        return out
    }

    func tlsRequiredFailure(_ reason: String) -> SMTPFailureCause {
        // RFC 5248 X.7.10: encryption needed.
        .local(EnhancedStatusCode(4, 7, 10), reason)
    }

    mutating func greeting(_ reply: SMTPReply, _ out: inout [SMTPClientAction]) {
        guard reply.code == 220 else {
            // RFC 5321 §3.1: after a 554 greeting the client should QUIT; after 421 the server is gone.
            return abandon(.reply(reply), at: .greeting, sendsQuit: reply.code != 421, &out)
        }
        send(.ehlo(configuration.clientName), expecting: .ehlo, &out)
    }

    mutating func extendedHello(_ reply: SMTPReply, _ out: inout [SMTPClientAction]) {
        if reply.isPositive {
            extensions = SMTPServerExtensions(ehloReply: reply)
            return afterHello(&out)
        }
        // RFC 5321 §3.2: a server that does not know EHLO says 500 (or 502); fall back to HELO.
        if reply.code == 500 || reply.code == 502 {
            return send(.helo(configuration.clientName), expecting: .helo, &out)
        }
        abandon(.reply(reply), at: .hello, sendsQuit: true, &out)
    }

    mutating func hello(_ reply: SMTPReply, _ out: inout [SMTPClientAction]) {
        guard reply.isPositive else { return abandon(.reply(reply), at: .hello, sendsQuit: true, &out) }
        extensions = SMTPServerExtensions()
        afterHello(&out)
    }

    /// After each EHLO/HELO: STARTTLS if due, then AUTH if due, then ready.
    mutating func afterHello(_ out: inout [SMTPClientAction]) {
        let offered = extensions ?? SMTPServerExtensions()
        if !isTLSActive, configuration.tlsPolicy != .disabled {
            if offered.startTLS { return send(.starttls, expecting: .startTLS, &out) }
            if configuration.tlsPolicy.requiresTLS {
                return abandon(tlsRequiredFailure("TLS required, but the server does not offer STARTTLS"),
                    at: .startTLS, sendsQuit: true, &out)
            }
        }
        if let credentials = configuration.credentials, !isAuthenticated {
            // Never a password in clear text, whatever the policy.
            guard isTLSActive else {
                return abandon(tlsRequiredFailure("AUTH needs TLS, and the session is not encrypted"),
                    at: .authentication, sendsQuit: true, &out)
            }
            // PLAIN first (one round trip with the initial response), then LOGIN.
            guard let mechanism = [SASLMechanism.plain, .login].first(where: { offered.authMechanisms.contains($0.name) })
            else {
                return abandon(.local(EnhancedStatusCode(4, 7, 0), "the server offers no AUTH PLAIN or LOGIN"),
                    at: .authentication, sendsQuit: true, &out)
            }
            let exchange = SASLClientExchange(mechanism: mechanism, credentials: credentials)
            sasl = exchange
            return send(.auth(mechanism: mechanism.name, initialResponse: exchange.initialResponse),
                expecting: .auth, &out)
        }
        phase = .ready
        out.append(.readyForMessage)
    }

    mutating func startTLSReply(_ reply: SMTPReply, _ out: inout [SMTPClientAction]) {
        if reply.code == 220 {
            // Bytes after the 220 arrived before the handshake: a man-in-the-middle injection (RFC 3207 §6,
            // CVE-2011-0411); throw them away with the parser.
            parser = SMTPReplyParser(maximumLineLength: configuration.maximumReplyLineLength)
            phase = .tlsHandshake
            out.append(.startTLS(verifyingCertificate: configuration.tlsPolicy == .verify))
            return
        }
        guard configuration.tlsPolicy.requiresTLS else {
            // Opportunistic: carry on in clear text, as if STARTTLS had not been offered.
            extensions?.startTLS = false
            return afterHello(&out)
        }
        abandon(.reply(reply), at: .startTLS, sendsQuit: true, &out)
    }

    mutating func authReply(_ reply: SMTPReply, _ out: inout [SMTPClientAction]) {
        if reply.code == 235 {
            sasl = nil
            isAuthenticated = true
            return afterHello(&out)
        }
        guard reply.code == 334, var exchange = sasl else {
            sasl = nil
            return abandon(.reply(reply), at: .authentication, sendsQuit: true, &out)
        }
        do throws(SASLFailure) {
            let response = try exchange.respond(to: Array((reply.lines.first ?? "").utf8))
            sasl = exchange
            out.append(.send(Array(response.utf8) + [13, 10]))
            expected.append(.auth)
        } catch {
            sasl = nil
            // Mid-exchange a QUIT would read as a SASL response: just close.
            abandon(.protocolViolation("AUTH challenge not understood: \(error)"), at: .authentication,
                sendsQuit: false, &out)
        }
    }
}
