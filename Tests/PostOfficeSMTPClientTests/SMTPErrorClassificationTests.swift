// SMTPErrorClassificationTests: the error-class table, row by row: cause × stage × final host → disposition,
// and the enhanced code a DSN will carry.

import PostOfficeCore
import PostOfficeSMTP
import PostOfficeSMTPClient
import Testing

@Suite struct SMTPErrorClassificationTests {
    static func reply(_ code: Int, _ enhanced: EnhancedStatusCode? = nil, _ text: String = "text") -> SMTPFailureCause {
        .reply(SMTPReply(code, enhanced, text))
    }

    static let e = EnhancedStatusCode.init(_:_:_:)

    @Test(arguments: [
        // (cause, stage, isFinalHost, disposition)
        (reply(220), SMTPClientStage.greeting, true, SMTPDisposition.delivered),
        (reply(421, e(4, 3, 2)), .greeting, false, .tryNextHost),
        (reply(421, e(4, 3, 2)), .greeting, true, .deferred),
        (reply(554, e(5, 7, 1)), .greeting, false, .tryNextHost),
        (reply(554, e(5, 7, 1)), .greeting, true, .deferred),
        (reply(451), .hello, false, .tryNextHost),
        (reply(451), .hello, true, .deferred),
        (reply(550), .hello, false, .failed),
        (reply(454, e(4, 7, 0)), .startTLS, false, .tryNextHost),
        (reply(535, e(5, 7, 8)), .authentication, true, .deferred),
        (reply(535, e(5, 7, 8)), .authentication, false, .tryNextHost),
        (reply(500, e(5, 5, 1)), .reset, true, .deferred),
        (reply(550, e(5, 7, 1)), .mail, false, .failed),
        (reply(451, e(4, 3, 0)), .mail, false, .deferred),
        (reply(550, e(5, 1, 1)), .recipient, false, .failed),
        (reply(450, e(4, 2, 2)), .recipient, false, .deferred),
        (reply(554), .data, true, .failed),
        (reply(354), .data, true, .deferred),
        (reply(250, e(2, 0, 0)), .messageContent, true, .delivered),
        (reply(554, e(5, 7, 1)), .messageContent, false, .failed),
        (reply(452, e(4, 3, 1)), .messageContent, true, .deferred),
        (reply(451, nil, "5.7.1 greylisted"), .messageContent, true, .deferred),
        (.connectionLost, .messageContent, false, .deferred),
        (.connectionLost, .connection, false, .tryNextHost),
        (.connectionLost, .greeting, true, .deferred),
        (.timedOut, .data, false, .deferred),
        (.timedOut, .greeting, false, .tryNextHost),
        (.protocolViolation("junk"), .recipient, true, .deferred),
        (.local(e(5, 3, 4), "too big"), .mail, false, .failed),
        (.local(e(5, 6, 7), "no SMTPUTF8"), .mail, false, .failed),
        (.local(e(4, 7, 10), "TLS required"), .startTLS, true, .deferred),
        (.local(e(4, 7, 10), "TLS required"), .startTLS, false, .tryNextHost),
    ])
    func table(cause: SMTPFailureCause, stage: SMTPClientStage, isFinalHost: Bool, expected: SMTPDisposition) {
        #expect(SMTPErrorClassification.disposition(of: cause, at: stage, isFinalHost: isFinalHost) == expected)
        let result = SMTPErrorClassification.result(of: cause, at: stage, isFinalHost: isFinalHost)
        #expect(result.disposition == expected)
        #expect(result.stage == stage)
        #expect(result.enhancedCode.statusClass == (expected == .delivered ? 2 : expected == .failed ? 5 : 4))
    }

    @Test(arguments: [
        (reply(550, e(5, 1, 1)), EnhancedStatusCode(5, 1, 1)),
        (reply(550), EnhancedStatusCode(5, 0, 0)),
        (reply(451, nil, "5.7.1 greylisted"), EnhancedStatusCode(4, 7, 1)),
        (reply(535, e(5, 7, 8)), EnhancedStatusCode(4, 7, 8)),
        (.connectionLost, EnhancedStatusCode(4, 4, 2)),
        (.timedOut, EnhancedStatusCode(4, 4, 2)),
        (.protocolViolation("junk"), EnhancedStatusCode(4, 5, 0)),
        (.local(e(5, 3, 4), "too big"), EnhancedStatusCode(5, 3, 4)),
    ])
    func enhancedCodeFollowsTheDisposition(cause: SMTPFailureCause, expected: EnhancedStatusCode) {
        let stage: SMTPClientStage =
            if case .reply(let r) = cause, r.code == 535 { .authentication } else { .recipient }
        #expect(SMTPErrorClassification.result(of: cause, at: stage, isFinalHost: true).enhancedCode == expected)
    }

    @Test func resultTextIsTheReplyAsReceived() {
        let result = SMTPErrorClassification.result(
            of: .reply(SMTPReply(code: 550, enhancedCode: Self.e(5, 1, 1), lines: ["No such", "user"])), at: .recipient,
            isFinalHost: true)
        #expect(result.text == "550-5.1.1 No such\r\n550 5.1.1 user")
        #expect(result.reply?.code == 550)
    }
}
