// SMTPClientTranscriptTests: the client engine against scripted servers (`S:` fed, `C:` expected), each script
// also run byte at a time and cut at every offset. Session, transaction, reuse and failure paths.

import PostOfficeCore
import PostOfficeSASL
import PostOfficeSMTP
import PostOfficeSMTPClient
import Testing

@Suite struct SMTPClientTranscriptTests {
    static let content = "Subject: hi\n\nHello\n.dot line\n..two dots\n."
    static let stuffed = """
        C: Subject: hi
        C:
        C: Hello
        C: ..dot line
        C: ...two dots
        C: ..
        C: .
        """
    static let greeting = "S: 220 mx.example.test ESMTP"

    @Test func plainDeliveryDotStuffsAndQuits() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250-SIZE 1000000
                S: 250 ENHANCEDSTATUSCODES
                C: MAIL FROM:<alice@example.org> SIZE=64
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 End data with <CR><LF>.<CR><LF>
                \(Self.stuffed)
                S: 250 2.0.0 Ok: queued as 4Xy9
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", size: 64), Self.content)]
        ).verify()
        #expect(outcome.recipientDispositions == [.delivered])
        #expect(outcome.messageResults.map(\.enhancedCode) == [EnhancedStatusCode(2, 0, 0)])
        #expect(outcome.messageResults.first?.reply?.lines == ["Ok: queued as 4Xy9"])
        #expect(outcome.sessionFailures == [])
        #expect(outcome.isClosed)
    }

    @Test func pipelinedDeliverySendsOneBatchAndReadsRepliesInOrder() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250-PIPELINING
                S: 250 8BITMIME
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<bob@example.test>
                C: RCPT TO:<carol@example.test>
                C: DATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 250 2.1.5 Ok
                S: 354 go ahead
                \(Self.stuffed)
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", "carol"), Self.content)]
        ).verify()
        #expect(outcome.recipientDispositions == [.delivered, .delivered])
        #expect(outcome.messageDispositions == [.delivered])
    }

    @Test func pipelinedMailRefusalFailsEveryRecipient() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 PIPELINING
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<bob@example.test>
                C: DATA
                S: 550 5.7.1 Sender refused
                S: 503 5.5.1 Error: need MAIL command
                S: 503 5.5.1 Error: need RCPT command
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob"), "x\n")]
        ).verify()
        #expect(outcome.recipientDispositions == [.failed])
        #expect(outcome.messageResults.first?.enhancedCode == EnhancedStatusCode(5, 7, 1))
        #expect(outcome.messageResults.first?.stage == .mail)
    }

    @Test func heloFallbackAfter502SendsNoExtensions() {
        let outcome = ClientTranscript(
            script: """
                S: 220-mx.example.test old server
                S: 220 no extensions here
                C: EHLO client.example.org
                S: 502 5.5.2 Command not recognized
                C: HELO client.example.org
                S: 250 mx.example.test
                C: MAIL FROM:<alice@example.org>
                S: 250 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 Ok
                C: DATA
                S: 354 go
                C: x
                C: .
                S: 250 Ok
                C: QUIT
                S: 221 Bye
                """,
            messages: [(.to("bob", size: 3), "x\n")]
        ).verify()
        #expect(outcome.messageDispositions == [.delivered])
    }

    static let tlsSession = """
        \(greeting)
        C: EHLO client.example.org
        S: 250-mx.example.test
        S: 250 STARTTLS
        C: STARTTLS
        S: 220 2.0.0 Ready to start TLS
        C: EHLO client.example.org
        S: 250-mx.example.test
        S: 250 AUTH PLAIN LOGIN
        """

    @Test(arguments: [SMTPClientTLSPolicy.may, .encrypt, .verify])
    func startTLSWhenOfferedThenEHLOAgain(policy: SMTPClientTLSPolicy) {
        let outcome = ClientTranscript(
            script: Self.tlsSession + """

                C: QUIT
                S: 221 2.0.0 Bye
                """,
            configuration: SMTPClientConfiguration(clientName: "client.example.org", tlsPolicy: policy)
        ).verify()
        #expect(outcome.tlsHandshakes == [policy == .verify])
        #expect(outcome.sessionFailures == [])
    }

    @Test func tlsLevelNoneNeverSendsSTARTTLS() {
        // transport_maps `tls=none` (Postfix's smtp_tls_security_level = none): STARTTLS offered, not used.
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 STARTTLS
                C: MAIL FROM:<alice@example.org>
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 go
                C: x
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            configuration: SMTPClientConfiguration(clientName: "client.example.org", tlsPolicy: .disabled),
            messages: [(.to("bob"), "x")]
        ).verify()
        #expect(outcome.recipientDispositions == [.delivered])
        #expect(!SMTPClientTLSPolicy.disabled.requiresTLS)
    }

    @Test func startTLSRefusedUnderMayCarriesOnInClearText() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 STARTTLS
                C: STARTTLS
                S: 454 4.7.0 TLS not available due to temporary reason
                C: MAIL FROM:<alice@example.org>
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 go
                C: x
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob"), "x")]
        ).verify()
        #expect(outcome.tlsHandshakes == [])
        #expect(outcome.messageDispositions == [.delivered])
    }

    @Test(arguments: [(SMTPClientTLSPolicy.encrypt, true, SMTPDisposition.deferred), (.verify, true, .deferred),
        (.encrypt, false, .tryNextHost)])
    func tlsRequiredButNotOfferedIsTemporary(policy: SMTPClientTLSPolicy, isFinalHost: Bool, expected: SMTPDisposition) {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 PIPELINING
                C: QUIT
                """,
            configuration: SMTPClientConfiguration(
                clientName: "client.example.org", tlsPolicy: policy, isFinalHost: isFinalHost),
            messages: [(.to("bob"), "x")]
        ).verify()
        #expect(outcome.sessionFailures.map(\.disposition) == [expected])
        #expect(outcome.sessionFailures.first?.enhancedCode == EnhancedStatusCode(4, 7, 10))
        #expect(outcome.messageResults == [])
        #expect(outcome.isClosed)
    }

    static let credentials = PlainCredentialsForTests.value

    @Test func authPlainOverTLSWithInitialResponse() {
        let outcome = ClientTranscript(
            script: Self.tlsSession + """

                C: AUTH PLAIN AHNtYXJ0aG9zdC11c2VyAHMzY3JldA==
                S: 235 2.7.0 Authentication successful
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            configuration: SMTPClientConfiguration(
                clientName: "client.example.org", tlsPolicy: .encrypt, credentials: Self.credentials)
        ).verify()
        #expect(outcome.sessionFailures == [])
        #expect(outcome.isClosed)
    }

    @Test func authLoginAnswersBothPrompts() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 STARTTLS
                C: STARTTLS
                S: 220 2.0.0 Ready to start TLS
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 AUTH=LOGIN
                C: AUTH LOGIN
                S: 334 VXNlcm5hbWU6
                C: c21hcnRob3N0LXVzZXI=
                S: 334 UGFzc3dvcmQ6
                C: czNjcmV0
                S: 235 2.7.0 Authentication successful
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            configuration: SMTPClientConfiguration(clientName: "client.example.org", credentials: Self.credentials)
        ).verify()
        #expect(outcome.sessionFailures == [])
    }

    @Test func authFailureIsTemporary() {
        let outcome = ClientTranscript(
            script: Self.tlsSession + """

                C: AUTH PLAIN AHNtYXJ0aG9zdC11c2VyAHMzY3JldA==
                S: 535 5.7.8 Authentication credentials invalid
                C: QUIT
                """,
            configuration: SMTPClientConfiguration(clientName: "client.example.org", credentials: Self.credentials),
            messages: [(.to("bob"), "x")]
        ).verify()
        #expect(outcome.sessionFailures.map(\.disposition) == [.deferred])
        #expect(outcome.sessionFailures.first?.enhancedCode == EnhancedStatusCode(4, 7, 8))
    }

    @Test func authIsNeverSentInClearText() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 AUTH PLAIN LOGIN
                C: QUIT
                """,
            configuration: SMTPClientConfiguration(clientName: "client.example.org", credentials: Self.credentials)
        ).verify()
        #expect(outcome.sessionFailures.map(\.disposition) == [.deferred])
    }

    @Test func sizeAboveTheAdvertisedLimitFailsBeforeMail() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 SIZE 100
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", "carol", size: 101), "x")]
        ).verify()
        #expect(outcome.recipientDispositions == [.failed, .failed])
        #expect(outcome.messageResults.map(\.enhancedCode) == [EnhancedStatusCode(5, 3, 4)])
    }

    static let sevenBitServer = """
        \(greeting)
        C: EHLO client.example.org
        S: 250-mx.example.test
        S: 250 SIZE
        """

    @Test func eightBitToAServerWithout8BITMIMEAsksAndBounces() {
        let outcome = ClientTranscript(
            script: Self.sevenBitServer + """

                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", isEightBit: true), "caf\u{E9}")], eightBitResolution: .bounce
        ).verify()
        #expect(outcome.decisions == [.eightBitContentWithout8BITMIME])
        #expect(outcome.messageResults.map(\.enhancedCode) == [EnhancedStatusCode(5, 6, 3)])
        #expect(outcome.recipientDispositions == [.failed])
    }

    @Test func eightBitConvertedGoesWithoutBodyParameter() {
        let outcome = ClientTranscript(
            script: Self.sevenBitServer + """

                C: MAIL FROM:<alice@example.org> SIZE=5
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 go
                C: caf=E9
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", size: 5, isEightBit: true), "caf=E9\n")]
        ).verify()
        #expect(outcome.decisions == [.eightBitContentWithout8BITMIME])
        #expect(outcome.messageDispositions == [.delivered])
    }

    @Test func eightBitAndUTF8GoWithTheirParametersWhenOffered() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250-8BITMIME
                S: 250 SMTPUTF8
                C: MAIL FROM:<alice@example.org> BODY=8BITMIME SMTPUTF8
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 go
                C: café
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", isEightBit: true, requiresSMTPUTF8: true), "café")]
        ).verify()
        #expect(outcome.decisions == [])
        #expect(outcome.messageDispositions == [.delivered])
    }

    @Test func smtpUTF8NeededButNotOfferedFailsThatMessage() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 8BITMIME
                C: MAIL FROM:<alice@example.org>
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 go
                C: x
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", requiresSMTPUTF8: true), "y"), (.to("bob"), "x")]
        ).verify()
        #expect(outcome.messageResults.map(\.disposition) == [.failed, .delivered])
        #expect(outcome.messageResults.first?.enhancedCode == EnhancedStatusCode(5, 6, 7))
    }

    @Test func perRecipient550FailsAnd450DefersOnlyThatRecipient() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250 mx.example.test
                C: MAIL FROM:<alice@example.org>
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: RCPT TO:<nobody@example.test>
                S: 550 5.1.1 <nobody@example.test>: Recipient address rejected
                C: RCPT TO:<full@example.test>
                S: 450 4.2.2 Mailbox full
                C: DATA
                S: 354 go
                C: x
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", "nobody", "full"), "x")]
        ).verify()
        #expect(outcome.recipientDispositions == [.delivered, .failed, .deferred])
        #expect(outcome.recipientResults.map(\.result.enhancedCode)
            == [EnhancedStatusCode(2, 0, 0), EnhancedStatusCode(5, 1, 1), EnhancedStatusCode(4, 2, 2)])
        #expect(outcome.recipientResults[1].result.text == "550 5.1.1 <nobody@example.test>: Recipient address rejected")
        #expect(outcome.messageDispositions == [.delivered])
    }

    @Test(arguments: [
        ("554 5.7.1 Message rejected as spam", SMTPDisposition.failed, EnhancedStatusCode(5, 7, 1)),
        ("452 4.3.1 Insufficient system storage", .deferred, EnhancedStatusCode(4, 3, 1)),
        // maddy#422: the basic code decides; the enhanced code keeps its subject and detail.
        ("451 5.7.1 Greylisted, try again", .deferred, EnhancedStatusCode(4, 7, 1)),
        ("552 Too much mail data", .failed, EnhancedStatusCode(5, 0, 0)),
    ])
    func replyAfterDataDecidesEveryAcceptedRecipient(reply: String, disposition: SMTPDisposition, code: EnhancedStatusCode) {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 PIPELINING
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<bob@example.test>
                C: RCPT TO:<nobody@example.test>
                C: RCPT TO:<carol@example.test>
                C: DATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 550 5.1.1 No such user
                S: 250 2.1.5 Ok
                S: 354 go
                C: x
                C: .
                S: \(reply)
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob", "nobody", "carol"), "x")]
        ).verify()
        #expect(outcome.recipientDispositions == [disposition, .failed, disposition])
        #expect(outcome.recipientResults[0].result.enhancedCode == code)
        #expect(outcome.recipientResults[0].result.stage == .messageContent)
        #expect(outcome.messageResults.map(\.disposition) == [disposition])
    }

    @Test(arguments: [
        ("421 4.3.2 Service shutting down", true, SMTPDisposition.deferred, false),
        ("421 4.3.2 Service shutting down", false, .tryNextHost, false),
        ("554 5.7.1 No SMTP service here", false, .tryNextHost, true),
        ("554 5.7.1 No SMTP service here", true, .deferred, true),
    ])
    func refusingGreetingMovesToTheNextHost(greeting: String, isFinalHost: Bool, expected: SMTPDisposition, quits: Bool) {
        let outcome = ClientTranscript(
            script: "S: \(greeting)\n" + (quits ? "C: QUIT\n" : ""),
            configuration: SMTPClientConfiguration(clientName: "client.example.org", isFinalHost: isFinalHost),
            messages: [(.to("bob"), "x")]
        ).verify()
        #expect(outcome.sessionFailures.map(\.disposition) == [expected])
        #expect(outcome.sessionFailures.first?.stage == .greeting)
        #expect(outcome.messageResults == [])
        #expect(outcome.isClosed)
    }

    @Test func connectionReuseSendsRSETOnlyAfterAnOpenTransaction() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250-PIPELINING
                S: 250-DSN
                S: 250 SIZE 0
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<bob@example.test>
                C: DATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 go
                C: 1
                C: .
                S: 250 2.0.0 Ok
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<nobody@example.test>
                C: DATA
                S: 250 2.1.0 Ok
                S: 550 5.1.1 No such user
                S: 554 5.5.1 Error: no valid recipients
                C: RSET
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<carol@example.test>
                C: DATA
                S: 250 2.0.0 Ok
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 go
                C: 3
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("bob"), "1"), (.to("nobody"), "2"), (.to("carol"), "3\n")]
        ).verify()
        #expect(outcome.messageDispositions == [.delivered, .failed, .delivered])
        #expect(outcome.recipientDispositions == [.delivered, .failed, .delivered])
    }

    @Test func unpipelinedReuseResetsBeforeMail() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250 mx.example.test
                C: MAIL FROM:<alice@example.org>
                S: 250 2.1.0 Ok
                C: RCPT TO:<nobody@example.test>
                S: 450 4.1.1 Try later
                C: RSET
                S: 250 2.0.0 Ok
                C: MAIL FROM:<alice@example.org>
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 go
                C: x
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(.to("nobody"), "x"), (.to("bob"), "x")]
        ).verify()
        #expect(outcome.messageDispositions == [.deferred, .delivered])
    }

    static let dsnMessage = SMTPOutboundMessage(
        from: .test("alice@example.org"),
        to: [.init(.test("bob@example.test"), parameters: RecipientParameters(
            dsnNotify: [.success, .failure],
            originalRecipient: .init(addressType: "rfc822", address: "bob+x@example.test")))],
        dsnReturn: .headers, envelopeID: "id 42")

    @Test(arguments: [true, false])
    func dsnParametersOnlyWhenOffered(offered: Bool) {
        let mail = offered ? "C: MAIL FROM:<alice@example.org> RET=HDRS ENVID=id+2042" : "C: MAIL FROM:<alice@example.org>"
        let rcpt =
            offered ? "C: RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@example.test"
            : "C: RCPT TO:<bob@example.test>"
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 \(offered ? "DSN" : "HELP")
                \(mail)
                S: 250 2.1.0 Ok
                \(rcpt)
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 go
                C: x
                C: .
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            messages: [(Self.dsnMessage, "x")]
        ).verify()
        #expect(outcome.messageDispositions == [.delivered])
    }

    @Test func chunkingSendsBDATWithoutDotStuffing() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250-PIPELINING
                S: 250 CHUNKING
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                C: BDAT 3
                C: .
                S: 250 2.0.0 3 octets
                C: BDAT 3
                C: B
                S: 250 2.0.0 3 octets
                C: BDAT 0 LAST
                S: 250 2.0.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """,
            configuration: SMTPClientConfiguration(clientName: "client.example.org", usesChunking: true),
            messages: [(.to("bob"), ".\nB\n")], contentChunkSize: 2
        ).verify()
        #expect(outcome.messageDispositions == [.delivered])
    }

    @Test(arguments: ["S: <close>", "S: <timeout>"])
    func connectionLostOrSilentMidDataDefers(event: String) {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250 mx.example.test
                C: MAIL FROM:<alice@example.org>
                S: 250 2.1.0 Ok
                C: RCPT TO:<bob@example.test>
                S: 250 2.1.5 Ok
                C: RCPT TO:<nobody@example.test>
                S: 550 5.1.1 No such user
                C: DATA
                S: 354 go
                C: x
                C: .
                \(event)
                """,
            messages: [(.to("bob", "nobody"), "x"), (.to("carol"), "y")]
        ).verify()
        #expect(outcome.recipientDispositions == [.deferred, .failed])
        #expect(outcome.recipientResults[0].result.enhancedCode == EnhancedStatusCode(4, 4, 2))
        #expect(outcome.sessionFailures.map(\.disposition) == [.deferred])
        #expect(outcome.isClosed)
    }

    @Test func a421MidTransactionDefersWhatIsUndecided() {
        let outcome = ClientTranscript(
            script: """
                \(Self.greeting)
                C: EHLO client.example.org
                S: 250-mx.example.test
                S: 250 PIPELINING
                C: MAIL FROM:<alice@example.org>
                C: RCPT TO:<nobody@example.test>
                C: RCPT TO:<bob@example.test>
                C: DATA
                S: 250 2.1.0 Ok
                S: 550 5.1.1 No such user
                S: 421 4.4.2 Timeout, closing
                """,
            messages: [(.to("nobody", "bob"), "x")]
        ).verify()
        #expect(outcome.recipientDispositions == [.failed, .deferred])
        #expect(outcome.recipientResults[1].result.reply?.code == 421)
        #expect(outcome.isClosed)
    }

    @Test func bytesAfterTheSTARTTLSReplyAreDiscarded() {
        var engine = SMTPClientStateMachine(
            configuration: SMTPClientConfiguration(clientName: "client.example.org", tlsPolicy: .encrypt))
        _ = engine.connected()
        _ = engine.receive(Array("220 mx\r\n250-mx\r\n250 STARTTLS\r\n".utf8))
        // A man in the middle appends a fake EHLO reply to the 220: it must not count after the handshake.
        #expect(engine.receive(Array("220 go\r\n250 injected\r\n".utf8)) == [.startTLS(verifyingCertificate: false)])
        #expect(engine.tlsEstablished() == [.send(Array("EHLO client.example.org\r\n".utf8))])
        #expect(engine.extensions == nil)
        #expect(engine.receive(Array("250 mx\r\n".utf8)) == [.readyForMessage])
    }

    @Test(arguments: [(true, SMTPDisposition.deferred), (false, .tryNextHost)])
    func aFailedHandshakeDefersWith475AndTheReason(isFinalHost: Bool, expected: SMTPDisposition) {
        var engine = SMTPClientStateMachine(
            configuration: SMTPClientConfiguration(clientName: "client.example.org", tlsPolicy: .verify, isFinalHost: isFinalHost))
        _ = engine.connected()
        _ = engine.receive(Array("220 mx\r\n250-mx\r\n250 STARTTLS\r\n".utf8))
        #expect(engine.receive(Array("220 go\r\n".utf8)) == [.startTLS(verifyingCertificate: true)])
        let actions = engine.tlsFailed("certificate verify failed: unable to get local issuer certificate")
        guard case .sessionFailed(let result)? = actions.first else {
            Issue.record("no session result: \(actions)")
            return
        }
        #expect(result.disposition == expected)
        #expect(result.enhancedCode == EnhancedStatusCode(4, 7, 5))
        #expect(result.text.contains("TLS handshake failed: certificate verify failed: unable to get local issuer"))
        #expect(actions.last == .close)
        // The connection closing afterwards adds nothing.
        #expect(engine.connectionLost().isEmpty)
        // Outside a handshake the call is ignored.
        #expect(engine.tlsFailed("late").isEmpty)
    }

    @Test func garbageFromTheServerDefersAndCloses() {
        var engine = SMTPClientStateMachine(configuration: SMTPClientConfiguration(clientName: "c"))
        _ = engine.connected()
        let actions = engine.receive(Array("HTTP/1.1 400 Bad Request\r\n".utf8))
        #expect(actions.count == 2)
        #expect(actions.last == .close)
        #expect(engine.isClosed)
    }
}

/// Credentials whose base64 forms the transcripts spell out.
enum PlainCredentialsForTests {
    static let value = PlainCredentials(authenticationIdentity: "smarthost-user", password: "s3cret")
}

@Suite struct ClientTranscriptHarnessTests {
    @Test func aWrongClientLineIsReported() {
        let outcome = ClientTranscript(script: "S: 220 mx\nC: HELO wrong\nS: 250 mx\n").run()
        #expect(outcome.mismatches.count == 2)
    }
}
