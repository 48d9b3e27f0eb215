// DSNComposerTests: the report's head checked directly — header fields, boundary, which content RET and
// size choose, folding of long replies, and that foreign text (replies, ENVID) cannot inject fields.

import PostOfficeCore
import PostOfficeDSN
import Testing

struct DSNComposerTests {
    let composer = DSNComposer(hostname: "mail.example.org")

    func report(
        _ outcome: DSNOutcome, kind: DSNReportKind = .failure, envelopeID: String? = nil, ret: String? = "FULL"
    ) -> DSNReport {
        let envelope = DSNEnvelope(
            reversePath: Fixture.alice, arrival: Fixture.arrival, recipients: [DSNRecipient(Fixture.bob)],
            messageSize: Fixture.original.count, envelopeID: envelopeID, returnContent: ret)
        return composer.compose(
            DSNPlan(kind: kind, to: Fixture.alice, recipients: [0]), envelope: envelope, outcomes: [outcome],
            date: Fixture.later, random: SeededRandomSource(seed: 7))
    }

    func headLines(_ report: DSNReport) -> [String] {
        String(decoding: report.head, as: UTF8.self).components(separatedBy: "\r\n")
    }

    @Test func headerFields() {
        let r = report(Fixture.failed())
        let lines = headLines(r)
        #expect(lines.contains("From: Mail Delivery System <MAILER-DAEMON@mail.example.org>"))
        #expect(lines.contains("To: alice@example.org"))
        #expect(lines.contains("Subject: Undelivered Mail Returned to Sender"))
        #expect(lines.contains("Date: Tue, 14 Nov 2023 22:23:20 +0000"))
        #expect(lines.contains("Message-ID: \(r.messageID)"))
        #expect(lines.contains("MIME-Version: 1.0"))
        #expect(lines.contains("Auto-Submitted: auto-replied"))
        #expect(lines.contains("\tboundary=\"\(r.boundary)\""))
        #expect(r.reversePath == nil)
        #expect(r.recipient == Fixture.alice)
        #expect(r.messageID.hasPrefix("<") && r.messageID.hasSuffix("@mail.example.org>"))
        #expect(r.boundary.hasPrefix("=_dsn_") && r.boundary.count >= 30 && r.boundary.count <= 70)
        #expect(!r.requires8BitMIME && !r.requiresSMTPUTF8)
        #expect(lines.allSatisfy { $0.utf8.count <= 78 })
    }

    @Test func boundariesAndMessageIDsDifferPerReport() {
        let random = SeededRandomSource(seed: 1)
        let envelope = DSNEnvelope(reversePath: Fixture.alice, arrival: Fixture.arrival, recipients: [DSNRecipient(Fixture.bob)])
        let plan = DSNPlan(kind: .failure, to: Fixture.alice, recipients: [0])
        let a = composer.compose(plan, envelope: envelope, outcomes: [Fixture.failed()], date: Fixture.later, random: random)
        let b = composer.compose(plan, envelope: envelope, outcomes: [Fixture.failed()], date: Fixture.later, random: random)
        #expect(a.boundary != b.boundary && a.messageID != b.messageID)
    }

    @Test(arguments: [
        (DSNReportKind.failure, "FULL", 50_000_000, DSNReturnContent.full),
        (.failure, "HDRS", 10, .headers),
        (.failure, nil, 1 << 20, .full),
        (.failure, nil, (1 << 20) + 1, .headers),
        (.doubleBounce, nil, 10, .full),
        (.delay, "FULL", 10, .headers),
        (.success, "FULL", 10, .headers),
    ] as [(DSNReportKind, String?, Int, DSNReturnContent)])
    func choosesContent(kind: DSNReportKind, ret: String?, size: Int, expected: DSNReturnContent) {
        let envelope = DSNEnvelope(
            reversePath: Fixture.alice, arrival: Fixture.arrival, recipients: [], messageSize: size, returnContent: ret)
        #expect(composer.content(for: kind, envelope: envelope) == expected)
    }

    static let longReply =
        "550-5.7.1 Message rejected because the sending server is listed on several block lists and the\r\n"
        + "550-5.7.1 administrator of this domain has decided not to accept mail from it; see\r\n"
        + "550 5.7.1 https://postmaster.example.net/policy/blocked?ip=192.0.2.25&l=all for details"

    @Test func longRepliesAreFoldedAndUnfoldBackExactly() {
        let lines = headLines(report(Fixture.failed("5.7.1", reply: Self.longReply)))
        #expect(lines.allSatisfy { $0.utf8.count <= 78 })
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Diagnostic-Code:") }) else {
            Issue.record("no Diagnostic-Code")
            return
        }
        var unfolded = lines[start]
        for line in lines[(start + 1)...] {
            guard line.hasPrefix(" ") || line.hasPrefix("\t") else { break }
            unfolded += line
        }
        #expect(
            unfolded == "Diagnostic-Code: smtp; 550 5.7.1 Message rejected because the sending server is listed on "
                + "several block lists and the administrator of this domain has decided not to accept mail from "
                + "it; see https://postmaster.example.net/policy/blocked?ip=192.0.2.25&l=all for details")
    }

    @Test func aWordLongerThanALineIsCutOnlyAtTheHardLimit() {
        let lines = headLines(report(Fixture.failed(reply: "550 " + String(repeating: "x", count: 3000))))
        #expect(lines.allSatisfy { $0.utf8.count <= 998 })
        #expect(lines.contains { $0.utf8.count > 78 })
    }

    @Test(arguments: [
        "550 5.1.1 nope\r\nX-Injected: yes", "550 5.1.1 nope\nX-Injected: yes", "550 5.1.1 nope\rX-Injected: yes",
    ])
    func repliesCannotAddFields(_ reply: String) {
        let lines = headLines(report(Fixture.failed(reply: reply)))
        #expect(!lines.contains { $0.hasPrefix("X-Injected") })
        #expect(lines.contains("Diagnostic-Code: smtp; 550 5.1.1 nope X-Injected: yes"))
    }

    @Test func envelopeIDCannotAddFields() {
        let lines = headLines(report(Fixture.failed(), envelopeID: "id+0D+0AX-Injected:+20yes"))
        #expect(!lines.contains { $0.hasPrefix("X-Injected") })
        #expect(lines.contains("Original-Envelope-Id: id+0D+0AX-Injected:+20yes"))
    }

    @Test func localFailuresGetAnXTypeDiagnostic() {
        let outcome = DSNOutcome.failed(DSNAttempt(status: EnhancedStatusCode(5, 2, 2), reply: "mailbox over quota"))
        let lines = headLines(report(outcome))
        #expect(lines.contains("Diagnostic-Code: X-PostOffice; mailbox over quota"))
        #expect(!lines.contains { $0.hasPrefix("Remote-MTA") })
    }

    @Test func utf8AddressesUseTheUTF8AddressType() {
        let envelope = DSNEnvelope(
            reversePath: Fixture.alice, arrival: Fixture.arrival,
            recipients: [DSNRecipient(MailAddress(localPart: "jos\u{E9}+x", domain: "example.net"))])
        let r = composer.compose(
            DSNPlan(kind: .failure, to: Fixture.alice, recipients: [0]), envelope: envelope,
            outcomes: [Fixture.failed()], date: Fixture.later, random: SeededRandomSource(seed: 3))
        #expect(headLines(r).contains("Final-Recipient: utf-8; jos\\x{E9}\\x{2B}x@example.net"))
        #expect(r.requires8BitMIME)  // the explanation names the address in UTF-8
    }
}
