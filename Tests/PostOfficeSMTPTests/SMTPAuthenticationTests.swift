// SMTPAuthenticationTests: SMTP AUTH in the engine (RFC 4954): the pause on .authenticate, read boundaries,
// the response line bound, shutdown and timeout mid-exchange, the authorization identity policy, error
// counting, and the MAIL AUTH= parameter. The transcripts 25-30 show the same on the wire.

import PostOfficeCore
import PostOfficeSASL
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPAuthenticationTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    static func base64(_ text: String) -> String { Base64.encodedString(Array(text.utf8)) }

    static func configuration(_ adjust: (inout SMTPServerConfiguration) -> Void = { _ in }) -> SMTPServerConfiguration {
        var configuration = SMTPServerConfiguration(hostname: "mx.example.test")
        configuration.authenticationMechanisms = [.plain, .login]
        configuration.allowsAuthenticationWithoutTLS = true
        adjust(&configuration)
        return configuration
    }

    /// A started engine after EHLO, AUTH offered in the clear.
    static func machine(_ adjust: (inout SMTPServerConfiguration) -> Void = { _ in }) -> SMTPServerStateMachine {
        var machine = SMTPServerStateMachine(configuration: configuration(adjust))
        _ = machine.start()
        _ = machine.receive(bytes("EHLO c\r\n"))
        return machine
    }

    static func replies(_ actions: [SMTPAction]) -> [SMTPReply] {
        actions.compactMap { if case .send(let reply) = $0 { reply } else { nil } }
    }

    /// Runs `input` through an engine in reads of `readSize` bytes (0: one read), answering `.authenticate`
    /// (alice:secret succeeds) and every other check at once; returns every action in order, consecutive
    /// appends joined.
    static func session(_ input: String, readSize: Int) -> [SMTPAction] {
        var machine = SMTPServerStateMachine(configuration: configuration())
        var all = machine.start()
        func perform(_ actions: [SMTPAction]) {
            var queue = actions[...]
            while let action = queue.popFirst() {
                // Message content may come in other pieces; only its bytes must be the same.
                if case .appendMessage(let more) = action, case .appendMessage(let before)? = all.last {
                    all[all.count - 1] = .appendMessage(before + more)
                    continue
                }
                all.append(action)
                switch action {
                case .authenticate(let credentials):
                    let good = credentials.authenticationIdentity == "alice" && credentials.password == "secret"
                    queue += machine.resolveAuthentication(good ? .success(identity: "alice") : .failure)
                case .checkSender: queue += machine.resolveSender(.accept)
                case .checkRecipient: queue += machine.resolveRecipient(.accept)
                case .commitMessage: queue += machine.resolveMessage(.accept)
                default: break
                }
            }
        }
        let wire = bytes(input)
        let size = readSize == 0 ? max(wire.count, 1) : readSize
        var start = 0
        while start < wire.count {
            perform(machine.receive(wire[start..<min(start + size, wire.count)]))
            start += size
        }
        return all
    }

    static let exchanges: [String] = [
        "EHLO c\r\nAUTH PLAIN \(base64("\0alice\0secret"))\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n",
        "EHLO c\r\nAUTH LOGIN\r\n\(base64("alice"))\r\n\(base64("secret"))\r\nNOOP\r\n",
        "EHLO c\r\nAUTH LOGIN \(base64("alice"))\r\n\(base64("wrong"))\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n\(base64("\0alice\0secret"))\r\n",
        "EHLO c\r\nAUTH PLAIN\r\nnot base64\r\nAUTH PLAIN =\r\nAUTH X\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN\r\nRSET\r\n"
            + "AUTH LOGIN\r\n\(base64("alice"))\r\n\(base64("secret"))\r\n",
        "EHLO c\r\nAUTH PLAIN\n\(base64("\0alice\0secret"))\nMAIL FROM:<a@b.example> AUTH=<>\nRCPT TO:<r@b.example>\nDATA\nx\n.\n",
    ]

    /// The whole exchange fed a byte at a time (or in odd-sized reads) gives the same actions as one read.
    @Test(arguments: exchanges, [1, 2, 7])
    func readBoundariesDoNotMatter(input: String, readSize: Int) {
        let reference = Self.session(input, readSize: 0)
        #expect(reference.contains { if case .authenticate = $0 { true } else { false } })
        #expect(Self.session(input, readSize: readSize) == reference)
    }

    @Test func pausesOnCredentialsAndBuffersUntilResolved() {
        var machine = Self.machine()
        let plain = Self.base64("\0alice\0secret")
        let actions = machine.receive(Self.bytes("AUTH PLAIN \(plain)\r\nNOOP\r\n"))
        #expect(actions == [.authenticate(PlainCredentials(authenticationIdentity: "alice", password: "secret"))])
        #expect(machine.isAwaitingDecision)
        #expect(machine.receive(Self.bytes("NOOP\r\n")).isEmpty)
        // Resolves of another kind change nothing.
        #expect(machine.resolveSender(.accept).isEmpty)
        #expect(machine.resolveMessage(.accept).isEmpty)
        #expect(machine.authenticatedIdentity == nil)
        #expect(
            machine.resolveAuthentication(.success(identity: "alice@example.test"))
                == [.send(.authenticationSucceeded), .send(.ok), .send(.ok)])
        #expect(machine.authenticatedIdentity == "alice@example.test")
        #expect(!machine.isAwaitingDecision)
        #expect(machine.resolveAuthentication(.failure).isEmpty)
    }

    @Test(arguments: [
        (SMTPAuthenticationResult.success(identity: "alice"), SMTPReply.authenticationSucceeded, 0, "alice"),
        (.failure, .authenticationInvalid, 1, nil),
        (.temporaryFailure, .authenticationTemporaryFailure, 1, nil),
    ] as [(SMTPAuthenticationResult, SMTPReply, Int, String?)])
    func resultsAndErrorCounting(result: SMTPAuthenticationResult, reply: SMTPReply, errors: Int, identity: String?) {
        var machine = Self.machine()
        _ = machine.receive(Self.bytes("AUTH PLAIN \(Self.base64("\0alice\0pw"))\r\n"))
        #expect(machine.resolveAuthentication(result) == [.send(reply)])
        #expect(machine.errorCount == errors)
        #expect(machine.authenticatedIdentity == identity)
    }

    /// PLAIN's authorization identity: the same as the user or empty is fine; another one is refused without
    /// asking the driver unless the configuration allows proxy logins.
    @Test(arguments: [
        ("", false, true), ("alice", false, true), ("admin", false, false), ("admin", true, true),
    ])
    func authorizationIdentity(authzid: String, allowed: Bool, reachesDriver: Bool) {
        var machine = Self.machine { $0.allowsAuthorizationIdentity = allowed }
        let actions = machine.receive(Self.bytes("AUTH PLAIN \(Self.base64("\(authzid)\0alice\0secret"))\r\n"))
        if reachesDriver {
            #expect(
                actions == [
                    .authenticate(
                        PlainCredentials(authorizationIdentity: authzid, authenticationIdentity: "alice", password: "secret"))
                ])
        } else {
            #expect(actions == [.send(.authenticationInvalid)])
            #expect(machine.errorCount == 1)
        }
    }

    /// RFC 4954 §4: responses up to the configured bound (CRLF included) are read; a longer one fails AUTH
    /// with 500 5.5.6 and none of it is read as a command.
    @Test(arguments: [(62, false), (63, true), (200, true)])
    func responseLineBound(length: Int, tooLong: Bool) {
        var machine = Self.machine { $0.maximumAuthenticationResponseLength = 64 }
        #expect(machine.receive(Self.bytes("AUTH PLAIN\r\n")) == [.send(.authenticationChallenge(""))])
        // `length` bytes of base64 (a multiple of 4 decodes; else it is bad base64) + CRLF.
        let response = String(repeating: "QUFB", count: length / 4) + String(repeating: "Q", count: length % 4)
        let actions = machine.receive(Self.bytes(response + "\r\nNOOP\r\n"))
        if tooLong {
            #expect(Self.replies(actions) == [.authenticationLineTooLong, .ok])
        } else {
            #expect(Self.replies(actions) == [.authenticationBadBase64, .ok])
        }
        // Back under the command line limit.
        #expect(
            Self.replies(machine.receive(Self.bytes("NOOP " + String(repeating: "x", count: 600) + "\r\n")))
                == [.lineTooLong])
    }

    /// The AUTH line itself stays under the command line limit (RFC 4954 §4); a long response goes after 334.
    @Test func authCommandLineKeepsTheCommandLimit() {
        var machine = Self.machine()
        let long = String(repeating: "QUFB", count: 200)
        #expect(Self.replies(machine.receive(Self.bytes("AUTH PLAIN \(long)\r\n"))) == [.lineTooLong])
        _ = machine.receive(Self.bytes("AUTH PLAIN\r\n"))
        // 800 bytes decode to "AAA..." (no NULs): not a PLAIN message, but read whole.
        #expect(Self.replies(machine.receive(Self.bytes(long + "\r\n"))) == [.authenticationInvalid])
    }

    @Test func shutdownAndTimeoutMidExchange() {
        var machine = Self.machine()
        _ = machine.receive(Self.bytes("AUTH LOGIN\r\n"))
        #expect(machine.beginShutdown() == [.send(.shuttingDown), .close])
        var other = Self.machine()
        _ = other.receive(Self.bytes("AUTH LOGIN\r\n"))
        #expect(other.timedOut() == [.send(.timeout), .close])
        // Shutdown while the driver checks credentials waits for its answer.
        var checking = Self.machine()
        _ = checking.receive(Self.bytes("AUTH PLAIN \(Self.base64("\0alice\0secret"))\r\n"))
        #expect(checking.beginShutdown().isEmpty)
        #expect(
            checking.resolveAuthentication(.success(identity: "alice"))
                == [.send(.authenticationSucceeded), .send(.shuttingDown), .close])
    }

    @Test func startTLSForgetsTheIdentity() {
        var machine = Self.machine { $0.isSTARTTLSAvailable = true }
        _ = machine.receive(Self.bytes("AUTH PLAIN \(Self.base64("\0alice\0secret"))\r\n"))
        _ = machine.resolveAuthentication(.success(identity: "alice"))
        #expect(machine.authenticatedIdentity == "alice")
        #expect(machine.receive(Self.bytes("STARTTLS\r\n")) == [.send(.readyToStartTLS), .startTLS])
        machine.tlsEstablished()
        #expect(machine.authenticatedIdentity == nil)
    }

    @Test func envelopeCarriesTheIdentity() {
        var machine = Self.machine()
        _ = machine.receive(Self.bytes("AUTH PLAIN \(Self.base64("\0alice\0secret"))\r\n"))
        _ = machine.resolveAuthentication(.success(identity: "alice"))
        _ = machine.receive(Self.bytes("MAIL FROM:<a@b.example> AUTH=a+2Bb@b.example\r\n"))
        _ = machine.resolveSender(.accept)
        _ = machine.receive(Self.bytes("RCPT TO:<r@b.example>\r\n"))
        _ = machine.resolveRecipient(.accept)
        let actions = machine.receive(Self.bytes("BDAT 0 LAST\r\n"))
        guard case .beginMessage(let envelope) = actions.first else {
            Issue.record("no beginMessage: \(actions)")
            return
        }
        #expect(envelope.authenticatedIdentity == "alice")
        #expect(envelope.mailParameters.submitter == "a+b@b.example")
    }

    /// MAIL's AUTH= (RFC 4954 §5): xtext, `<>` allowed; only where AUTH is configured.
    @Test(arguments: [
        ("MAIL FROM:<a@b.example> AUTH=<>", "<>", nil),
        ("MAIL FROM:<a@b.example> AUTH=a+2Bb@b.example", "a+b@b.example", nil),
        ("MAIL FROM:<> auth=e+3Dmc2@example.com SIZE=10", "e=mc2@example.com", nil),
        ("MAIL FROM:<a@b.example> AUTH", nil, 501),
        ("MAIL FROM:<a@b.example> AUTH=a+0Db", nil, 501),
        ("MAIL FROM:<a@b.example> AUTH=a+20b", nil, 501),
        ("MAIL FROM:<a@b.example> AUTH=a+zz", nil, 501),
        ("MAIL FROM:<a@b.example> AUTH=<> AUTH=<>", nil, 501),
    ] as [(String, String?, Int?)])
    func mailAuthParameter(line: String, submitter: String?, code: Int?) {
        let parser = SMTPCommandParser(configuration: Self.configuration())
        switch parser.parse(Self.bytes(line)) {
        case .command(.mail(_, let parameters)):
            #expect(code == nil)
            #expect(parameters.submitter == submitter)
        case .failure(let reply):
            #expect(reply.code == code)
        case .command(let other):
            Issue.record("parsed as \(other)")
        }
        // Without AUTH configured the parameter is not offered: 555.
        let plain = SMTPCommandParser(configuration: SMTPServerConfiguration(hostname: "mx.example.test"))
        if case .failure(let reply) = plain.parse(Self.bytes(line)), code == nil {
            #expect(reply.code == 555)
        } else if code == nil {
            Issue.record("AUTH= accepted without AUTH")
        }
    }

    @Test(arguments: ["<>", "a+b=c@b.example", "jörg@b.example"])
    func mailAuthParameterRoundTrips(submitter: String) {
        let command = SMTPCommand.mail(MailAddress("a@b.example"), MailParameters(isSMTPUTF8: true, submitter: submitter))
        let parser = SMTPCommandParser(configuration: Self.configuration())
        #expect(parser.parse(Array(command.wireBytes.dropLast(2))) == .command(command))
    }

    /// Sequence rules (RFC 4954 §4), in the order the engine checks them.
    @Test(arguments: [
        ("AUTH PLAIN =\r\n", false, SMTPReply.needHello),
        ("EHLO c\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN\r\n", true, .authenticationInTransaction),
        ("EHLO c\r\nAUTH plain\r\n", false, .authenticationChallenge("")),
        ("EHLO c\r\nAUTH DIGEST-MD5\r\n", false, .unknownAuthenticationMechanism),
    ] as [(String, Bool, SMTPReply)])
    func sequence(input: String, acceptSender: Bool, reply: SMTPReply) {
        var machine = SMTPServerStateMachine(configuration: Self.configuration())
        _ = machine.start()
        var actions = machine.receive(Self.bytes(input))
        if acceptSender { actions += machine.resolveSender(.accept) }
        #expect(Self.replies(actions).last == reply)
    }

    /// Only the configured mechanisms are accepted, and none in the clear unless allowed.
    @Test func configuredMechanismsAndTLS() {
        var loginOnly = Self.machine { $0.authenticationMechanisms = [.login] }
        #expect(Self.replies(loginOnly.receive(Self.bytes("AUTH PLAIN =\r\n"))) == [.unknownAuthenticationMechanism])
        var needsTLS = Self.machine {
            $0.allowsAuthenticationWithoutTLS = false
            $0.isSTARTTLSAvailable = true
        }
        #expect(Self.replies(needsTLS.receive(Self.bytes("AUTH PLAIN =\r\n"))) == [.encryptionRequiredForAuthentication])
        #expect(needsTLS.errorCount == 1)
    }
}
