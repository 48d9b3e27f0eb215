// SMTPReplyTests: wire form of replies, the catalogue's consistency, and the EHLO keyword list.

import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPReplyTests {
    static func wire(_ reply: SMTPReply) -> String { String(decoding: reply.wireBytes, as: UTF8.self) }

    @Test func singleLine() {
        #expect(Self.wire(.ok) == "250 2.0.0 Ok\r\n")
        #expect(Self.wire(SMTPReply(354, nil, "go")) == "354 go\r\n")
        #expect(Self.wire(SMTPReply(code: 250, enhancedCode: nil, lines: [])) == "250 \r\n")
    }

    @Test func multiLineRepeatsTheEnhancedCode() {
        let reply = SMTPReply(214, EnhancedStatusCode(2, 0, 0), "one", "two", "three")
        #expect(Self.wire(reply) == "214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three\r\n")
        #expect(reply.description == "214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three")
    }

    @Test func controlCharactersCannotForgeLines() {
        let reply = SMTPReply(550, EnhancedStatusCode(5, 1, 1), "no\r\n250 Ok\u{0}")
        #expect(Self.wire(reply) == "550 5.1.1 no  250 Ok \r\n")
    }

    static let catalogue: [SMTPReply] = [
        .ok, .senderOk, .recipientOk, .messageAccepted(id: "X"), .chunkReceived(octets: 1), .closing, .help,
        .cannotVerify, .readyToStartTLS, .shuttingDown, .timeout, .tooManyErrors, .tooMuchPipelinedInput,
        .temporaryFailure, .tooManyRecipients, .unknownCommand, .invalidCharacters, .lineTooLong, .syntaxError,
        .badSenderSyntax, .badRecipientSyntax, .verifyDisabled, .expandDisabled, .commandNotImplemented,
        .badSequence, .needHello, .needLHLO, .helloInLMTP, .needMail, .nestedMail, .needRecipient, .dataNotAllowed, .unknownUser,
        .relayDenied, .senderRejected, .messageTooBig, .utf8AddressNotPermitted, .noValidRecipients,
        .talkedBeforeGreeting, .unknownParameter, .authenticationSucceeded, .authenticationTemporaryFailure,
        .authenticationLineTooLong, .authenticationCancelled, .authenticationBadBase64, .alreadyAuthenticated,
        .authenticationInTransaction, .unknownAuthenticationMechanism, .authenticationRequired, .authenticationInvalid,
        .encryptionRequiredForAuthentication,
    ]

    @Test(arguments: catalogue)
    func enhancedCodeClassMatchesReplyClass(reply: SMTPReply) throws {
        let enhanced = try #require(reply.enhancedCode)
        #expect(enhanced.statusClass == reply.code / 100)
        #expect((200..<600).contains(reply.code))
        #expect(!reply.lines.isEmpty)
    }

    @Test(arguments: [
        (SMTPReply.unknownUser, 550, "5.1.1"), (.relayDenied, 550, "5.7.1"), (.messageTooBig, 552, "5.3.4"),
        (.tooManyRecipients, 452, "4.5.3"), (.badSequence, 503, "5.5.1"), (.unknownCommand, 500, "5.5.2"),
        (.syntaxError, 501, "5.5.4"), (.temporaryFailure, 451, "4.3.0"), (.shuttingDown, 421, "4.3.2"),
        (.timeout, 421, "4.4.2"), (.noValidRecipients, 554, "5.5.0"), (.tooManyErrors, 421, "4.7.0"),
        (.unknownParameter, 555, "5.5.4"), (.cannotVerify, 252, "2.5.0"), (.lineTooLong, 500, "5.5.6"),
        // RFC 4954 §4 and §6.
        (.authenticationSucceeded, 235, "2.7.0"), (.authenticationRequired, 530, "5.7.0"),
        (.authenticationInvalid, 535, "5.7.8"), (.authenticationTemporaryFailure, 454, "4.7.0"),
        (.encryptionRequiredForAuthentication, 538, "5.7.11"), (.authenticationCancelled, 501, "5.7.0"),
        (.authenticationBadBase64, 501, "5.5.2"), (.unknownAuthenticationMechanism, 504, "5.5.4"),
        (.alreadyAuthenticated, 503, "5.5.1"), (.authenticationInTransaction, 503, "5.5.1"),
        (.authenticationLineTooLong, 500, "5.5.6"),
    ])
    func catalogueCodes(reply: SMTPReply, code: Int, enhanced: String) {
        #expect(reply.code == code)
        #expect(reply.enhancedCode?.description == enhanced)
    }

    @Test func defaultCapabilities() {
        let capabilities = SMTPCapabilities(configuration: SMTPServerConfiguration(hostname: "h"))
        #expect(
            capabilities.keywords == [
                "PIPELINING", "SIZE 26214400", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING",
                "BINARYMIME",
            ])
        #expect(capabilities.extendedHelloReply(hostname: "h").lines.first == "h")
        #expect(capabilities.extendedHelloReply(hostname: "h").enhancedCode == nil)
    }

    @Test func startTLSOnlyWhenConfiguredAndNoAuthByDefault() {
        var configuration = SMTPServerConfiguration(hostname: "h")
        configuration.isSTARTTLSAvailable = true
        let before = SMTPCapabilities(configuration: configuration, isTLSActive: false).keywords
        let after = SMTPCapabilities(configuration: configuration, isTLSActive: true).keywords
        #expect(before.contains("STARTTLS"))
        #expect(!after.contains("STARTTLS"))
        // Without mechanisms the engine answers AUTH with 502, so no keyword may promise it, before TLS or after.
        #expect(!(before + after).contains { $0.hasPrefix("AUTH") })
    }

    /// AUTH is advertised only with mechanisms, and PLAIN/LOGIN only under TLS unless allowed in the clear.
    @Test(arguments: [
        ([SASLMechanism](), true, true, nil),
        ([.plain, .login], false, false, nil),
        ([.plain, .login], false, true, "AUTH PLAIN LOGIN"),
        ([.plain, .login], true, false, "AUTH PLAIN LOGIN"),
        ([.login], true, true, "AUTH LOGIN"),
    ] as [([SASLMechanism], Bool, Bool, String?)])
    func authKeyword(mechanisms: [SASLMechanism], withoutTLS: Bool, tlsActive: Bool, keyword: String?) {
        var configuration = SMTPServerConfiguration(hostname: "h")
        configuration.isSTARTTLSAvailable = true
        configuration.authenticationMechanisms = mechanisms
        configuration.allowsAuthenticationWithoutTLS = withoutTLS
        let keywords = SMTPCapabilities(configuration: configuration, isTLSActive: tlsActive).keywords
        #expect(keywords.filter { $0.hasPrefix("AUTH") } == (keyword.map { [$0] } ?? []))
        #expect(configuration.offersAuthentication(isTLSActive: tlsActive) == (keyword != nil))
    }

    @Test func minimalCapabilities() {
        var configuration = SMTPServerConfiguration(hostname: "h")
        configuration.limits.maximumMessageSize = 1000
        configuration.isPipeliningEnabled = false
        configuration.is8BitMIMEEnabled = false
        configuration.isSMTPUTF8Enabled = false
        configuration.isChunkingEnabled = false
        configuration.isDSNEnabled = false
        #expect(SMTPCapabilities(configuration: configuration).keywords == ["SIZE 1000", "ENHANCEDSTATUSCODES"])
    }
}
