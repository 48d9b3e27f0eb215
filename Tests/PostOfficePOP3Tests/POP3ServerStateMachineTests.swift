// POP3ServerStateMachineTests: every command in each state, the maildrop snapshot with DELE/RSET/QUIT,
// authentication outcomes, plaintext refusal, AUTH PLAIN, pipelining while paused, limits and shutdown.
import PostOfficeCore
import Testing
@testable import PostOfficePOP3

@Suite struct POP3ServerStateMachineTests {
    typealias Session = POP3TestSession

    static func base64(_ text: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let bytes = Array(text.utf8)
        var out = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0..<4 {
                out.append(position <= chunk.count ? alphabet[Int(value >> (18 - 6 * UInt32(position)) & 63)] : "=")
            }
            index += 3
        }
        return out
    }

    // MARK: Greeting and AUTHORIZATION

    @Test func greeting() {
        var session = Session()
        #expect(session.start() == ["S: +OK PostOffice ready"])
        #expect(session.start() == [])
    }

    @Test func greetingCarriesAPOPTimestampOnlyWhenEnabled() {
        var configuration = Session.configuration()
        configuration.isAPOPEnabled = true
        configuration.apopTimestamp = "<1.2@mail.example>"
        var session = Session(configuration: configuration)
        #expect(session.start() == ["S: +OK PostOffice ready <1.2@mail.example>"])
        #expect(session.line("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
            == ["A: apop mrose <1.2@mail.example> c4c9334bac560ecc979e58001b3e22fb"])
        #expect(session.machine.isAwaitingDecision)
    }

    @Test func apopDisabledByDefault() {
        var session = Session()
        _ = session.start()
        #expect(session.line("APOP mrose c4c9334bac560ecc979e58001b3e22fb") == ["S: -ERR APOP not supported"])
    }

    @Test func inputBeforeGreetingIsAnsweredAfterIt() {
        var session = Session()
        #expect(session.line("NOOP") == [])
        #expect(session.start() == ["S: +OK PostOffice ready", "S: -ERR Command not valid in AUTHORIZATION state"])
    }

    @Test func userPassSuccess() {
        var session = Session()
        _ = session.start()
        #expect(session.line("USER alice") == ["S: +OK"])
        #expect(session.line("PASS my secret") == ["A: authenticate alice my secret"])
        #expect(session.machine.isAwaitingDecision)
        let answer = Session.render(session.machine.authenticationFinished(.success(Session.messages)))
        #expect(answer == ["S: +OK Maildrop has 3 messages (350 octets)"])
        #expect(!session.machine.isAwaitingDecision)
        #expect(session.machine.isAuthenticated)
    }

    @Test func passWithoutUser() {
        var session = Session()
        _ = session.start()
        #expect(session.line("PASS secret") == ["S: -ERR No USER given, send USER first"])
    }

    @Test func wrongUserAndWrongPasswordAnswerIdentically() {
        var first = Session()
        _ = first.start()
        _ = first.line("USER nobody")
        _ = first.line("PASS x")
        let unknownUser = Session.render(first.machine.authenticationFinished(.failure))
        var second = Session()
        _ = second.start()
        _ = second.line("USER alice")
        _ = second.line("PASS wrong")
        let wrongPassword = Session.render(second.machine.authenticationFinished(.failure))
        #expect(unknownUser == wrongPassword)
        #expect(unknownUser == ["S: -ERR [AUTH] Authentication failed"])
        // USER must be sent again after a failure.
        #expect(second.line("PASS again") == ["S: -ERR No USER given, send USER first"])
    }

    @Test(arguments: [
        (POP3AuthenticationResult.inUse, "S: -ERR [IN-USE] Maildrop is locked by another session"),
        (.temporaryFailure, "S: -ERR [SYS/TEMP] Temporary failure, try again later"),
    ])
    func lockAndTemporaryFailuresStayInAuthorization(result: POP3AuthenticationResult, expected: String) {
        var session = Session()
        _ = session.start()
        _ = session.line("USER alice")
        _ = session.line("PASS secret")
        #expect(Session.render(session.machine.authenticationFinished(result)) == [expected])
        #expect(!session.machine.isAuthenticated)
        #expect(session.line("STAT") == ["S: -ERR Command not valid in AUTHORIZATION state"])
        _ = session.line("USER alice")
        #expect(session.line("PASS secret") == ["A: authenticate alice secret"])
    }

    @Test func tooManyAuthenticationFailuresClose() {
        var session = Session()
        _ = session.start()
        for attempt in 1...3 {
            _ = session.line("USER alice")
            _ = session.line("PASS wrong")
            let answer = Session.render(session.machine.authenticationFinished(.failure))
            if attempt < 3 {
                #expect(answer == ["S: -ERR [AUTH] Authentication failed"])
            } else {
                #expect(answer == ["S: -ERR [AUTH] Authentication failed, too many attempts", "A: close"])
            }
        }
        #expect(session.machine.isClosed)
        #expect(session.line("NOOP") == [])
    }

    @Test(arguments: ["USER alice", "PASS secret", "AUTH PLAIN", "AUTH PLAIN \(base64("\0alice\0secret"))"])
    func plaintextRefusedOnInsecureConnection(line: String) {
        var session = Session(configuration: Session.configuration(plaintext: false))
        _ = session.start()
        #expect(session.line(line)
            == ["S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections (use TLS)"])
        #expect(!session.machine.isAwaitingDecision)
    }

    @Test func capabilitiesOnSecureConnection() {
        var session = Session()
        _ = session.start()
        #expect(session.line("CAPA") == [
            "S: +OK Capability list follows", "S: USER", "S: TOP", "S: UIDL", "S: RESP-CODES", "S: AUTH-RESP-CODE",
            "S: PIPELINING", "S: IMPLEMENTATION PostOffice", "S: SASL PLAIN", "S: .",
        ])
    }

    @Test func capabilitiesOnInsecureConnectionOmitPlaintextMechanisms() {
        var configuration = Session.configuration(plaintext: false)
        configuration.isSTLSAvailable = true
        var session = Session(configuration: configuration)
        _ = session.start()
        let lines = session.line("CAPA")
        #expect(!lines.contains("S: USER"))
        #expect(!lines.contains("S: SASL PLAIN"))
        #expect(lines.contains("S: STLS"))
        #expect(lines.contains("S: TOP"))
    }

    @Test func capabilitiesAreTheSameAfterLogin() {
        var before = Session()
        _ = before.start()
        var after = Session.loggedIn()
        #expect(before.line("CAPA") == after.line("CAPA"))
    }

    @Test func stlsStartsTLSAndDiscardsPipelinedInput() {
        var configuration = Session.configuration(plaintext: false)
        configuration.isSTLSAvailable = true
        var session = Session(configuration: configuration)
        _ = session.start()
        #expect(session.bytes(Array("STLS\r\nUSER injected\r\n".utf8)) == ["S: +OK Begin TLS negotiation", "A: starttls"])
        #expect(session.line("STLS") == ["S: -ERR STLS not available"])
        #expect(!session.line("CAPA").contains("S: STLS"))
        #expect(session.line("USER alice") == ["S: +OK"])
    }

    @Test func stlsUnavailableByDefault() {
        var session = Session()
        _ = session.start()
        #expect(session.line("STLS") == ["S: -ERR STLS not available"])
    }

    @Test func quitInAuthorizationClosesWithoutCommit() {
        var session = Session()
        _ = session.start()
        #expect(session.line("QUIT") == ["S: +OK PostOffice signing off", "A: close"])
        #expect(session.machine.isClosed)
    }

    @Test(arguments: ["STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL", "UIDL 1"])
    func transactionCommandsRefusedBeforeLogin(line: String) {
        var session = Session()
        _ = session.start()
        #expect(session.line(line) == ["S: -ERR Command not valid in AUTHORIZATION state"])
    }

    // MARK: AUTH PLAIN

    @Test func authPlainWithInitialResponse() {
        var session = Session()
        _ = session.start()
        #expect(session.line("AUTH PLAIN \(Self.base64("\0alice\0pass word"))") == ["A: authenticate alice pass word"])
    }

    @Test func authPlainWithContinuation() {
        var session = Session()
        _ = session.start()
        #expect(session.line("auth plain") == ["S: + "])
        #expect(session.line(Self.base64("alice\0alice\0secret")) == ["A: authenticate alice secret"])
    }

    @Test func authPlainContinuationMayExceedCommandLineLimit() {
        var session = Session()
        _ = session.start()
        _ = session.line("AUTH PLAIN")
        let longPassword = String(repeating: "p", count: 600)
        #expect(session.line(Self.base64("\0alice\0" + longPassword)) == ["A: authenticate alice \(longPassword)"])
    }

    @Test func authPlainCancelled() {
        var session = Session()
        _ = session.start()
        _ = session.line("AUTH PLAIN")
        #expect(session.line("*") == ["S: -ERR [AUTH] Authentication cancelled"])
        #expect(session.line("NOOP") == ["S: -ERR Command not valid in AUTHORIZATION state"])
    }

    @Test(arguments: ["not-base64!", "YQ=", "AGFsaWNlAHNlY3JldA"])
    func authPlainRejectsBadBase64(text: String) {
        var session = Session()
        _ = session.start()
        #expect(session.line("AUTH PLAIN \(text)") == ["S: -ERR [AUTH] Invalid base64 data"])
        _ = session.line("AUTH PLAIN")
        #expect(session.line(text) == ["S: -ERR [AUTH] Invalid base64 data"])
    }

    @Test(arguments: ["alice\0secret", "\0alice\0sec\0ret", "a", "\0\u{FF}"])
    func authPlainRejectsMalformedCredentials(credentials: String) {
        var session = Session()
        _ = session.start()
        #expect(session.line("AUTH PLAIN \(Self.base64(credentials))") == ["S: -ERR [AUTH] Malformed PLAIN credentials"])
    }

    @Test func authPlainEmptyInitialResponseIsMalformed() {
        var session = Session()
        _ = session.start()
        #expect(session.line("AUTH PLAIN =") == ["S: -ERR [AUTH] Malformed PLAIN credentials"])
    }

    @Test(arguments: ["bob\0alice\0secret", "\0\0secret"])
    func authPlainRefusesProxyAndEmptyIdentity(credentials: String) {
        var session = Session()
        _ = session.start()
        #expect(session.line("AUTH PLAIN \(Self.base64(credentials))") == ["S: -ERR [AUTH] Authentication failed"])
    }

    @Test func authWithoutMechanismListsMechanisms() {
        var session = Session()
        _ = session.start()
        #expect(session.line("AUTH") == ["S: +OK Supported mechanisms follow", "S: PLAIN", "S: ."])
        #expect(session.line("AUTH CRAM-MD5") == ["S: -ERR Unsupported authentication mechanism"])
    }

    // MARK: TRANSACTION

    @Test func statListUidl() {
        var session = Session.loggedIn()
        #expect(session.line("STAT") == ["S: +OK 3 350"])
        #expect(session.line("LIST") == ["S: +OK 3 messages (350 octets)", "S: 1 120", "S: 2 200", "S: 3 30", "S: ."])
        #expect(session.line("LIST 2") == ["S: +OK 2 200"])
        #expect(session.line("UIDL") == ["S: +OK Unique-ID listing follows", "S: 1 uid-one", "S: 2 uid-two", "S: 3 uid-three", "S: ."])
        #expect(session.line("UIDL 3") == ["S: +OK 3 uid-three"])
        #expect(session.line("NOOP") == ["S: +OK"])
    }

    @Test func emptyMaildrop() {
        var session = Session.loggedIn([])
        #expect(session.line("STAT") == ["S: +OK 0 0"])
        #expect(session.line("LIST") == ["S: +OK 0 messages (0 octets)", "S: ."])
        #expect(session.line("RETR 1") == ["S: -ERR No such message, only 0 messages in maildrop"])
    }

    @Test(arguments: ["LIST 4", "UIDL 4", "RETR 4", "DELE 4", "TOP 4 1", "RETR 99999999999999999999999"])
    func noSuchMessage(line: String) {
        var session = Session.loggedIn()
        #expect(session.line(line) == ["S: -ERR No such message, only 3 messages in maildrop"])
    }

    @Test(arguments: [
        ("RETR 0", "S: -ERR Invalid message number"), ("RETR -1", "S: -ERR Invalid message number"),
        ("LIST x", "S: -ERR Invalid message number"), ("TOP 1 -1", "S: -ERR Invalid line count, must be a non-negative number"),
        ("RETR", "S: -ERR Missing argument"), ("STAT 1", "S: -ERR Too many arguments"),
        ("FOO", "S: -ERR Unknown command"), ("", "S: -ERR Empty command"),
    ])
    func badArguments(line: String, expected: String) {
        var session = Session.loggedIn()
        #expect(session.line(line) == [expected])
    }

    @Test(arguments: ["USER bob", "PASS x", "AUTH PLAIN", "APOP a c4c9334bac560ecc979e58001b3e22fb", "STLS"])
    func authorizationCommandsRefusedAfterLogin(line: String) {
        var session = Session.loggedIn()
        #expect(session.line(line) == ["S: -ERR Command not valid in TRANSACTION state"])
    }

    @Test func retrPausesUntilMessageSent() {
        var session = Session.loggedIn()
        #expect(session.line("RETR 2") == ["A: send key-2 200 all"])
        #expect(session.machine.isAwaitingDecision)
        #expect(session.line("NOOP") == [])
        #expect(Session.render(session.machine.messageSent()) == ["S: +OK"])
        #expect(session.line("TOP 1 5") == ["A: send key-1 120 5"])
        #expect(Session.render(session.machine.messageSent()) == [])
    }

    @Test func messageUnavailableAnswersErrorAndMarksNothing() {
        var session = Session.loggedIn()
        _ = session.line("RETR 1")
        #expect(Session.render(session.machine.messageUnavailable()) == ["S: -ERR [SYS/TEMP] Message unavailable"])
        #expect(session.line("QUIT") == ["A: commit deleted=[] retrieved=[]"])
    }

    @Test func deleteHidesMessageAndRsetRestores() {
        var session = Session.loggedIn()
        #expect(session.line("DELE 2") == ["S: +OK Message 2 deleted"])
        #expect(session.line("DELE 2") == ["S: -ERR Message 2 already deleted"])
        #expect(session.line("STAT") == ["S: +OK 2 150"])
        #expect(session.line("LIST") == ["S: +OK 2 messages (150 octets)", "S: 1 120", "S: 3 30", "S: ."])
        #expect(session.line("UIDL") == ["S: +OK Unique-ID listing follows", "S: 1 uid-one", "S: 3 uid-three", "S: ."])
        for line in ["LIST 2", "UIDL 2", "RETR 2", "TOP 2 0"] {
            #expect(session.line(line) == ["S: -ERR Message 2 already deleted"])
        }
        #expect(session.line("RSET") == ["S: +OK Maildrop has 3 messages (350 octets)"])
        #expect(session.line("LIST 2") == ["S: +OK 2 200"])
    }

    @Test func quitCommitsDeletedAndRetrievedOnly() {
        var session = Session.loggedIn()
        _ = session.line("RETR 1")
        _ = session.machine.messageSent()
        _ = session.line("RETR 2")
        _ = session.machine.messageSent()
        _ = session.line("TOP 3 0")
        _ = session.machine.messageSent()
        _ = session.line("DELE 2")
        #expect(session.line("QUIT") == ["A: commit deleted=[key-2] retrieved=[key-1]"])
        #expect(session.machine.isAwaitingDecision)
        #expect(Session.render(session.machine.updateFinished(success: true))
            == ["S: +OK PostOffice signing off (2 messages left)", "A: close"])
    }

    @Test func rsetClearsRetrievedMarksToo() {
        var session = Session.loggedIn()
        _ = session.line("RETR 1")
        _ = session.machine.messageSent()
        _ = session.line("DELE 3")
        _ = session.line("RSET")
        #expect(session.line("QUIT") == ["A: commit deleted=[] retrieved=[]"])
    }

    @Test func failedUpdateReportsSysTemp() {
        var session = Session.loggedIn()
        _ = session.line("DELE 1")
        _ = session.line("DELE 2")
        _ = session.line("DELE 3")
        #expect(session.line("QUIT") == ["A: commit deleted=[key-1,key-2,key-3] retrieved=[]"])
        #expect(Session.render(session.machine.updateFinished(success: false))
            == ["S: -ERR [SYS/TEMP] Some deleted messages not removed", "A: close"])
        #expect(session.machine.isClosed)
    }

    @Test func emptyMaildropSignOff() {
        var session = Session.loggedIn()
        for number in 1...3 { _ = session.line("DELE \(number)") }
        _ = session.line("QUIT")
        #expect(Session.render(session.machine.updateFinished(success: true))
            == ["S: +OK PostOffice signing off (maildrop empty)", "A: close"])
    }

    @Test func timeoutClosesWithoutUpdateOrResponse() {
        var session = Session.loggedIn()
        _ = session.line("DELE 1")
        #expect(Session.render(session.machine.timedOut()) == ["A: close"])
        #expect(session.line("QUIT") == [])
        #expect(Session.render(session.machine.timedOut()) == [])
    }

    @Test func invalidUniqueIDsAreRepairedInUIDL() {
        var session = Session.loggedIn([POP3MessageInfo(uniqueID: "bad id", octets: 1, storageKey: "k")])
        let expected = POP3MessageInfo.sanitizedUniqueID("bad id")
        #expect(session.line("UIDL 1") == ["S: +OK 1 \(expected)"])
        #expect(!expected.contains(" "))
    }

    // MARK: Pipelining, limits, robustness

    @Test func pipelinedCommandsAnsweredInOrder() {
        var session = Session()
        _ = session.start()
        let burst = Array("USER alice\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nNOOP\r\nQUIT\r\n".utf8)
        #expect(session.bytes(burst) == ["S: +OK", "A: authenticate alice secret"])
        #expect(Session.render(session.machine.authenticationFinished(.success(Session.messages)))
            == ["S: +OK Maildrop has 3 messages (350 octets)", "S: +OK 3 350", "A: send key-1 120 all"])
        #expect(Session.render(session.machine.messageSent())
            == ["S: +OK", "A: commit deleted=[] retrieved=[key-1]"])
    }

    @Test func pipelinedInputBoundedWhilePaused() {
        var configuration = Session.configuration()
        configuration.maximumPendingInputBytes = 100
        var session = Session(configuration: configuration)
        _ = session.start()
        _ = session.line("USER alice")
        _ = session.line("PASS secret")
        #expect(session.bytes(Array(repeating: UInt8(ascii: "N"), count: 80)) == [])
        #expect(session.bytes(Array(repeating: UInt8(ascii: "N"), count: 80))
            == ["S: -ERR [SYS/PERM] Too much pipelined input", "A: close"])
        #expect(session.machine.isClosed)
        // The runtime's late answer to the authentication it was running is ignored.
        #expect(Session.render(session.machine.authenticationFinished(.success(Session.messages))) == [])
    }

    @Test func pipelinedOverflowDuringMessageClosesSilently() {
        var configuration = Session.configuration()
        configuration.maximumPendingInputBytes = 10
        var session = Session(configuration: configuration)
        _ = session.start()
        _ = session.line("USER alice")
        _ = session.line("PASS secret")
        _ = session.machine.authenticationFinished(.success(Session.messages))
        _ = session.line("RETR 1")
        #expect(session.bytes(Array("NOOP\r\nNOOP\r\nNOOP\r\n".utf8)) == ["A: close"])
        #expect(Session.render(session.machine.messageSent()) == [])
    }

    @Test func lateCallbacksAfterTimeoutAreIgnored() {
        var session = Session.loggedIn()
        _ = session.line("QUIT")
        #expect(Session.render(session.machine.timedOut()) == ["A: close"])
        #expect(Session.render(session.machine.updateFinished(success: true)) == [])
    }

    @Test func messageFollowsLine() {
        #expect(POP3Response.messageFollows(octets: 120, bodyLineLimit: nil).wireBytes == Array("+OK 120 octets\r\n".utf8))
        #expect(POP3Response.messageFollows(octets: 120, bodyLineLimit: 3).isOK)
    }

    @Test func overlongLineIsRejectedAndDiscarded() {
        var session = Session.loggedIn()
        let long = "NOOP " + String(repeating: "x", count: 300)
        #expect(session.line(long) == ["S: -ERR Line too long"])
        #expect(session.line("STAT") == ["S: +OK 3 350"])
        // Exactly 255 octets with CRLF is accepted.
        #expect(session.line("PASS " + String(repeating: "y", count: 248)) == ["S: -ERR Command not valid in TRANSACTION state"])
    }

    @Test func overlongLineArrivingInPieces() {
        var session = Session.loggedIn()
        var answers: [String] = []
        for _ in 0..<10 { answers += session.bytes(Array(repeating: UInt8(ascii: "a"), count: 100)) }
        answers += session.bytes(Array("\r\nNOOP\r\n".utf8))
        #expect(answers == ["S: -ERR Line too long", "S: +OK"])
    }

    @Test func bareLineFeedEndsCommands() {
        var session = Session.loggedIn()
        #expect(session.bytes(Array("STAT\nNOOP\n".utf8)) == ["S: +OK 3 350", "S: +OK"])
    }

    @Test func tooManyErrorsClose() {
        var session = Session()
        _ = session.start()
        var answers: [String] = []
        for _ in 0..<25 { answers += session.line("BOGUS") }
        #expect(answers.count == 19 + 2)
        #expect(answers.suffix(2) == ["S: -ERR Too many errors, closing connection", "A: close"])
        #expect(session.machine.isClosed)
    }

    @Test(arguments: 1...30)
    func binaryGarbageNeverCrashes(seed: UInt64) {
        let random = SeededRandomSource(seed: seed)
        var session = Session.loggedIn()
        for _ in 0..<40 {
            let chunk = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let answers = session.bytes(chunk)
            if session.machine.isAwaitingDecision { _ = session.machine.messageSent() }
            #expect(answers.allSatisfy { $0.hasPrefix("S: ") || $0.hasPrefix("A: ") })
            if session.machine.isClosed { break }
        }
    }

    // MARK: Shutdown

    @Test func shutdownWhenIdle() {
        var session = Session.loggedIn()
        _ = session.line("DELE 1")
        #expect(Session.render(session.machine.beginShutdown()) == ["S: -ERR [SYS/TEMP] Server shutting down", "A: close"])
        #expect(session.machine.isClosed)
    }

    @Test func shutdownWaitsForMessageInFlight() {
        var session = Session.loggedIn()
        _ = session.line("RETR 1")
        #expect(Session.render(session.machine.beginShutdown()) == [])
        #expect(Session.render(session.machine.messageSent()) == ["S: -ERR [SYS/TEMP] Server shutting down", "A: close"])
    }

    @Test func shutdownLetsUpdateFinish() {
        var session = Session.loggedIn()
        _ = session.line("DELE 1")
        _ = session.line("QUIT")
        #expect(Session.render(session.machine.beginShutdown()) == [])
        #expect(Session.render(session.machine.updateFinished(success: true))
            == ["S: +OK PostOffice signing off (2 messages left)", "A: close"])
    }

    @Test func shutdownWaitsForAuthentication() {
        var session = Session()
        _ = session.start()
        _ = session.line("USER alice")
        _ = session.line("PASS secret")
        #expect(Session.render(session.machine.beginShutdown()) == [])
        #expect(Session.render(session.machine.authenticationFinished(.failure))
            == ["S: -ERR [AUTH] Authentication failed", "S: -ERR [SYS/TEMP] Server shutting down", "A: close"])
    }

    @Test func shutdownBeforeGreeting() {
        var session = Session()
        #expect(Session.render(session.machine.beginShutdown()) == [])
        #expect(session.start() == ["S: +OK PostOffice ready", "S: -ERR [SYS/TEMP] Server shutting down", "A: close"])
    }

    @Test func shutdownDuringPlainContinuation() {
        var session = Session()
        _ = session.start()
        _ = session.line("AUTH PLAIN")
        #expect(Session.render(session.machine.beginShutdown()) == ["S: -ERR [SYS/TEMP] Server shutting down", "A: close"])
    }

    @Test func overlongPlainContinuationEndsTheExchange() {
        var session = Session()
        _ = session.start()
        _ = session.line("AUTH PLAIN")
        #expect(session.line(String(repeating: "A", count: 5000)) == ["S: -ERR Line too long"])
        #expect(session.line("USER alice") == ["S: +OK"])
    }

    @Test func apopIsSignalledByGreetingNotCapabilities() {
        var configuration = Session.configuration()
        configuration.isAPOPEnabled = true
        configuration.apopTimestamp = "<x@y>"
        var session = Session(configuration: configuration)
        #expect(session.start() == ["S: +OK PostOffice ready <x@y>"])
        #expect(!session.line("CAPA").contains("S: APOP"))
    }

    @Test func apopEnabledWithoutTimestampStaysOff() {
        var configuration = Session.configuration()
        configuration.isAPOPEnabled = true
        var session = Session(configuration: configuration)
        #expect(session.start() == ["S: +OK PostOffice ready"])
        #expect(session.line("APOP a c4c9334bac560ecc979e58001b3e22fb") == ["S: -ERR APOP not supported"])
    }

    @Test func implicitTLSAllowsPlaintextAndHidesSTLS() {
        var configuration = Session.configuration(plaintext: false)
        configuration.isTLSActive = true
        configuration.isSTLSAvailable = true
        var session = Session(configuration: configuration)
        _ = session.start()
        let capabilities = session.line("CAPA")
        #expect(capabilities.contains("S: USER"))
        #expect(!capabilities.contains("S: STLS"))
        #expect(session.line("STLS") == ["S: -ERR STLS not available"])
    }
}
