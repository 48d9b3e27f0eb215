// SASLExchangeTests: PLAIN and LOGIN server exchanges with and without initial responses, every failure,
// and the client exchange talking to the server exchange.
import Testing

@testable import PostOfficeSASL

@Suite struct SASLExchangeTests {
    static func b64(_ text: String) -> [UInt8] { Base64.encode(Array(text.utf8)) }
    static let alice = PlainCredentials(authenticationIdentity: "alice", password: "secret")
    static let username = Base64.encodedString("Username:".utf8)
    static let password = Base64.encodedString("Password:".utf8)

    @Test func plainWithInitialResponse() {
        var exchange = SASLServerExchange(mechanism: .plain)
        #expect(exchange.start(initialResponse: Self.b64("\0alice\0secret")) == .credentials(Self.alice))
        #expect(exchange.isFinished)
        #expect(exchange.receive(Self.b64("\0alice\0secret")) == .failure(.unexpectedStep))
    }

    @Test func plainWithoutInitialResponse() {
        var exchange = SASLServerExchange(mechanism: .plain)
        #expect(exchange.start() == .challenge(""))
        #expect(!exchange.isFinished)
        #expect(exchange.receive(Self.b64("\0alice\0secret")) == .credentials(Self.alice))
    }

    @Test func plainEmptyInitialResponseIsMalformed() {
        var exchange = SASLServerExchange(mechanism: .plain)
        #expect(exchange.start(initialResponse: Array("=".utf8)) == .failure(.malformedMessage))
    }

    @Test func loginAsksUsernameThenPassword() {
        var exchange = SASLServerExchange(mechanism: .login)
        #expect(exchange.start() == .challenge(Self.username))
        #expect(exchange.receive(Self.b64("alice")) == .challenge(Self.password))
        #expect(exchange.receive(Self.b64("secret")) == .credentials(Self.alice))
        #expect(exchange.isFinished)
    }

    @Test func loginTakesUsernameFromInitialResponse() {
        var exchange = SASLServerExchange(mechanism: .login)
        #expect(exchange.start(initialResponse: Self.b64("alice")) == .challenge(Self.password))
        #expect(exchange.receive(Self.b64("secret")) == .credentials(Self.alice))
    }

    @Test(arguments: [
        (SASLMechanism.plain, "*", SASLFailure.cancelled),
        (.plain, "not base64!", .invalidBase64),
        (.plain, "YQ=", .invalidBase64),
        (.plain, String(decoding: b64("alice"), as: UTF8.self), .malformedMessage),
        (.plain, "", .malformedMessage),
        (.login, "*", .cancelled),
        (.login, "YQ", .invalidBase64),
        (.login, String(decoding: b64("a\0b"), as: UTF8.self), .malformedMessage),
        (.login, String(decoding: Base64.encode([0xFF]), as: UTF8.self), .malformedMessage),
    ])
    func failures(mechanism: SASLMechanism, line: String, failure: SASLFailure) {
        var exchange = SASLServerExchange(mechanism: mechanism)
        _ = exchange.start()
        #expect(exchange.receive(Array(line.utf8)) == .failure(failure))
        #expect(exchange.isFinished)
    }

    @Test func loginCancelAtPassword() {
        var exchange = SASLServerExchange(mechanism: .login)
        _ = exchange.start()
        _ = exchange.receive(Self.b64("alice"))
        #expect(exchange.receive(Array("*".utf8)) == .failure(.cancelled))
    }

    @Test func receiveBeforeStartIsUnexpected() {
        var exchange = SASLServerExchange(mechanism: .plain)
        #expect(exchange.receive(Self.b64("\0a\0b")) == .failure(.unexpectedStep))
    }

    /// The client exchange drives the server exchange to the same credentials, for every mechanism and
    /// with and without an initial response.
    @Test(arguments: SASLMechanism.allCases, [true, false])
    func clientTalksToServer(mechanism: SASLMechanism, usesInitialResponse: Bool) throws {
        let credentials = PlainCredentials(
            authorizationIdentity: mechanism == .plain ? "boss" : "", authenticationIdentity: "jörg",
            password: "pass word")
        var client = SASLClientExchange(
            mechanism: mechanism, credentials: credentials, usesInitialResponse: usesInitialResponse)
        var server = SASLServerExchange(mechanism: mechanism)
        var step = server.start(initialResponse: client.initialResponse.map { Array($0.utf8) })
        var rounds = 0
        while case .challenge(let challenge) = step {
            rounds += 1
            try #require(rounds <= 2)
            step = server.receive(Array(try client.respond(to: Array(challenge.utf8)).utf8))
        }
        #expect(step == .credentials(credentials))
        #expect(rounds == (mechanism == .login ? 2 : (usesInitialResponse ? 0 : 1)))
    }

    @Test func clientRefusesExtraOrBadChallenges() throws {
        var plain = SASLClientExchange(mechanism: .plain, credentials: Self.alice)
        #expect(plain.initialResponse == "AGFsaWNlAHNlY3JldA==")
        #expect(throws: SASLFailure.unexpectedStep) { try plain.respond(to: Array("".utf8)) }
        var login = SASLClientExchange(mechanism: .login, credentials: Self.alice)
        #expect(login.initialResponse == nil)
        #expect(throws: SASLFailure.invalidBase64) { try login.respond(to: Array("VXNlcm5hbWU".utf8)) }
        #expect(try login.respond(to: Array(Self.username.utf8)) == "YWxpY2U=")
        #expect(try login.respond(to: Array(Self.password.utf8)) == "c2VjcmV0")
        #expect(throws: SASLFailure.unexpectedStep) { try login.respond(to: Array("".utf8)) }
        #expect(SASLClientExchange.cancellation == "*")
    }
}
