// DSNPythonParserTests: whole reports read back by an independent parser, Python's `email` package:
// multipart/report structure, the delivery-status field groups, the returned original, 8-bit content.

import PostOfficeCore
import PostOfficeDSN
import Testing

@Suite(.enabled(if: PythonEmail.available, "python3 is not installed"))
struct DSNPythonParserTests {
    let composer = DSNComposer(hostname: "mail.example.org", returnSizeLimit: 1 << 20)

    func make(
        kind: DSNReportKind = .failure, recipients: [DSNRecipient], outcomes: [DSNOutcome], ret: String? = nil,
        envelopeID: String? = nil, original: [UInt8] = Fixture.original, originalIs8Bit: Bool = false, chunk: Int = 5
    ) throws -> (DSNReport, ParsedReport) {
        let envelope = DSNEnvelope(
            reversePath: Fixture.alice, arrival: Fixture.arrival, recipients: recipients, messageSize: original.count,
            envelopeID: envelopeID, returnContent: ret)
        let plan = DSNPlan(kind: kind, to: Fixture.alice, recipients: Array(recipients.indices))
        let report = composer.compose(
            plan, envelope: envelope, outcomes: outcomes, date: Fixture.later, random: SeededRandomSource(seed: 42),
            originalIs8Bit: originalIs8Bit)
        // Stream the original in small chunks, as the queue's body reader would.
        var bytes = report.head
        var encoder = report.makeEncoder()
        var start = 0
        while start < original.count, !encoder.isComplete {
            encoder.encode(original[start..<min(original.count, start + chunk)], into: &bytes)
            start += chunk
        }
        bytes += encoder.finish() + report.tail
        #expect(bytes == report.assemble(original: original))
        return (report, try PythonEmail.parse(bytes))
    }

    @Test func failureWithFullContentSeveralRecipientsENVIDAndORCPT() throws {
        let (report, parsed) = try make(
            recipients: [
                DSNRecipient(Fixture.bob, originalRecipient: "rfc822;b+2Bob@example.net"),
                DSNRecipient(Fixture.carol),
            ],
            outcomes: [Fixture.failed(), Fixture.failed("5.2.2", reply: "552 5.2.2 Mailbox full")],
            ret: "FULL", envelopeID: "QQ314159+2Bx")
        #expect(parsed.contentType == "multipart/report")
        #expect(parsed.reportType == "delivery-status")
        #expect(parsed.parts == ["text/plain", "message/delivery-status", "message/rfc822"])
        #expect(parsed.defects.isEmpty)
        #expect(parsed.headers["Subject"] == "Undelivered Mail Returned to Sender")
        #expect(parsed.headers["From"] == "Mail Delivery System <MAILER-DAEMON@mail.example.org>")
        #expect(parsed.headers["To"] == "alice@example.org")
        #expect(parsed.headers["Auto-Submitted"] == "auto-replied")
        #expect(parsed.headers["Message-ID"] == report.messageID)
        #expect(parsed.groups.count == 3)
        #expect(
            parsed.groups[0] == [
                "Original-Envelope-Id": "QQ314159+x", "Reporting-MTA": "dns; mail.example.org",
                "Arrival-Date": "Tue, 14 Nov 2023 22:13:20 +0000",
            ])
        #expect(
            parsed.groups[1] == [
                "Original-Recipient": "rfc822;b+ob@example.net", "Final-Recipient": "rfc822; bob@example.net",
                "Action": "failed", "Status": "5.1.1", "Remote-MTA": "dns; mx.example.net",
                "Diagnostic-Code": "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
                "Last-Attempt-Date": "Tue, 14 Nov 2023 22:23:20 +0000",
            ])
        #expect(parsed.groups[2]["Final-Recipient"] == "rfc822; carol@example.net")
        #expect(parsed.groups[2]["Status"] == "5.2.2")
        #expect(parsed.groups[2]["Original-Recipient"] == nil)
        #expect(parsed.innerSubject == "Lunch on Friday")
        #expect(parsed.innerBody == "Shall we meet at noon?\r\n-- \r\nAlice\r\n")
        #expect(parsed.thirdEncoding == "7bit")
        #expect(parsed.text.contains("<bob@example.net>: the mailbox does not exist (5.1.1). The server"))
        #expect(parsed.text.contains("mx.example.net replied: 550 5.1.1"))
        #expect(parsed.text.contains("<carol@example.net>: the mailbox is full (5.2.2)."))
        #expect(parsed.text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }).allSatisfy { $0.count <= 78 })
    }

    @Test(arguments: [("HDRS", 10), (nil, (1 << 20) + 1)] as [(String?, Int)])
    func headersOnlyForHDRSAndForLargeMessages(ret: String?, padding: Int) throws {
        let original = Fixture.original + Array(repeating: UInt8(ascii: "x"), count: padding) + Array("\r\n".utf8)
        let (report, parsed) = try make(recipients: [DSNRecipient(Fixture.bob)], outcomes: [Fixture.failed()], ret: ret, original: original, chunk: 65536)
        #expect(report.content == .headers)
        #expect(parsed.parts == ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        #expect(parsed.innerHeaders?.contains("Subject: Lunch on Friday") == true)
        #expect(parsed.innerHeaders?.contains("noon") == false)
        #expect(parsed.defects.isEmpty)
    }

    @Test func eightBitOriginalIsDeclared8bit() throws {
        let original = Array("Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nUn caf\u{E9}, s'il vous pla\u{EE}t.\r\n".utf8)
        let (report, parsed) = try make(
            recipients: [DSNRecipient(Fixture.bob)], outcomes: [Fixture.failed()], ret: "FULL", original: original,
            originalIs8Bit: true)
        #expect(report.requires8BitMIME)
        #expect(parsed.headers["Content-Transfer-Encoding"] == "8bit")
        #expect(parsed.thirdEncoding == "8bit")
        #expect(parsed.innerBody == "Un caf\u{E9}, s'il vous pla\u{EE}t.\r\n")
        #expect(parsed.defects.isEmpty)
    }

    @Test func longDiagnosticSurvivesFolding() throws {
        let (_, parsed) = try make(
            recipients: [DSNRecipient(Fixture.bob)], outcomes: [Fixture.failed("5.7.1", reply: DSNComposerTests.longReply)])
        #expect(
            parsed.groups[1]["Diagnostic-Code"]
                == "smtp; 550 5.7.1 Message rejected because the sending server is listed on several block lists and "
                + "the administrator of this domain has decided not to accept mail from it; see "
                + "https://postmaster.example.net/policy/blocked?ip=192.0.2.25&l=all for details")
    }

    @Test func delayReport() throws {
        let (_, parsed) = try make(kind: .delay, recipients: [DSNRecipient(Fixture.bob)], outcomes: [Fixture.delayed()], ret: "FULL")
        #expect(parsed.headers["Subject"] == "Delayed Mail (still being retried)")
        #expect(parsed.parts.last == "text/rfc822-headers")
        #expect(parsed.groups[1]["Action"] == "delayed")
        #expect(parsed.groups[1]["Status"] == "4.4.1")
        #expect(parsed.groups[1]["Will-Retry-Until"] == "Sun, 19 Nov 2023 22:13:20 +0000")
        #expect(parsed.text.contains("you do not need to send it again"))
    }

    @Test func successReportWithDeliveredRelayedAndExpanded() throws {
        let (_, parsed) = try make(
            kind: .success,
            recipients: [DSNRecipient(Fixture.bob, notify: "SUCCESS"), DSNRecipient(Fixture.carol, notify: "SUCCESS"), DSNRecipient(Fixture.postmaster, notify: "SUCCESS")],
            outcomes: [
                Fixture.delivered,
                .relayed(DSNAttempt(status: EnhancedStatusCode(2, 0, 0), remoteMTA: "mx.example.net", reply: "250 2.0.0 Ok: queued as 4XYZ"), remoteSupportsDSN: false),
                .expanded(DSNAttempt(status: EnhancedStatusCode(2, 0, 0))),
            ])
        #expect(parsed.headers["Subject"] == "Successful Mail Delivery Report")
        #expect(parsed.groups.dropFirst().map { $0["Action"] } == ["delivered", "relayed", "expanded"])
        #expect(parsed.groups[2]["Diagnostic-Code"] == "smtp; 250 2.0.0 Ok: queued as 4XYZ")
        #expect(parsed.text.contains("<carol@example.net>: handed on to mx.example.net, which replied: 250 2.0.0"))
        #expect(parsed.defects.isEmpty)
    }

    @Test func doubleBounceGoesToThePostmasterWithTheBounceInside() throws {
        // The undeliverable bounce: itself a report, made by this composer.
        let bounce = try make(recipients: [DSNRecipient(Fixture.bob)], outcomes: [Fixture.failed()], ret: "FULL").0
            .assemble(original: Fixture.original)
        let envelope = DSNEnvelope(
            reversePath: nil, arrival: Fixture.arrival, recipients: [DSNRecipient(Fixture.alice)], messageSize: bounce.count)
        let outcomes = [Fixture.failed(reply: "550 5.1.1 <alice@example.org>: no such user")]
        let plans = DSNPolicy(postmaster: Fixture.postmaster).reports(for: envelope, outcomes: outcomes, now: Fixture.later)
        #expect(plans == [DSNPlan(kind: .doubleBounce, to: Fixture.postmaster, recipients: [0])])
        let report = composer.compose(
            plans[0], envelope: envelope, outcomes: outcomes, date: Fixture.later, random: SeededRandomSource(seed: 9))
        #expect(report.reversePath == nil && report.recipient == Fixture.postmaster)
        let parsed = try PythonEmail.parse(report.assemble(original: bounce))
        #expect(parsed.headers["To"] == "postmaster@mail.example.org")
        #expect(parsed.headers["Subject"] == DSNReportKind.doubleBounce.subject)
        #expect(parsed.parts == ["text/plain", "message/delivery-status", "message/rfc822"])
        #expect(parsed.innerSubject == "Undelivered Mail Returned to Sender")
        #expect(parsed.groups[1]["Final-Recipient"] == "rfc822; alice@example.org")
        #expect(parsed.defects.isEmpty)
    }

    @Test func noReportIsEverMadeForANullSenderMessage() {
        let policy = DSNPolicy(postmaster: Fixture.postmaster)
        let envelope = DSNEnvelope(
            reversePath: nil, arrival: Fixture.arrival,
            recipients: [DSNRecipient(Fixture.bob, notify: "SUCCESS,FAILURE,DELAY")])
        for outcome in [Fixture.failed(), Fixture.delayed(), Fixture.delivered] {
            let plans = policy.reports(for: envelope, outcomes: [outcome], now: MailTime(seconds: 2_000_000_000))
            #expect(plans.allSatisfy { $0.kind == .doubleBounce && $0.to == Fixture.postmaster })
        }
    }
}
