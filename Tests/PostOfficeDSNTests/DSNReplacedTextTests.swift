// DSNReplacedTextTests: an embedder's replacement for the human-readable part (checkReport's
// `.send(text:)`) — line ends made CRLF, control characters defused, UTF-8 declared as 8bit, the other
// parts unchanged — and the Message-ID lookup in the original's header section.

import PostOfficeCore
import PostOfficeDSN
import Testing

struct DSNReplacedTextTests {
    let composer = DSNComposer(hostname: "mail.example.org")

    func compose(explanation: String?) -> DSNReport {
        let envelope = DSNEnvelope(
            reversePath: Fixture.alice, arrival: Fixture.arrival, recipients: [DSNRecipient(Fixture.bob)],
            messageSize: Fixture.original.count, returnContent: "HDRS")
        return composer.compose(
            DSNPlan(kind: .failure, to: Fixture.alice, recipients: [0]), envelope: envelope, outcomes: [Fixture.failed()],
            date: Fixture.later, random: SeededRandomSource(seed: 7), explanation: explanation)
    }

    @Test func replacedTextKeepsTheMachineParts() {
        let original = String(decoding: compose(explanation: nil).head, as: UTF8.self)
        let replaced = String(decoding: compose(explanation: "Bob's address is wrong.\nAsk him again.").head, as: UTF8.self)
        #expect(replaced.contains("charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nBob's address is wrong.\r\nAsk him again.\r\n\r\n--"))
        #expect(!replaced.contains("This is the mail system"))
        // From the delivery-status part on, only the boundary differs.
        func machineParts(_ head: String) -> String {
            let start = head.range(of: "Content-Description: Delivery report")!.lowerBound
            return String(head[start...])
        }
        #expect(machineParts(replaced) == machineParts(original))
    }

    struct TextCase: Sendable, CustomTestStringConvertible {
        let text: String
        let body: String
        var testDescription: String { body }
    }

    @Test(arguments: [
        TextCase(text: "a\r\nb", body: "a\r\nb\r\n"),
        TextCase(text: "a\rb\n\nc", body: "a\r\nb\r\n\r\nc\r\n"),
        TextCase(text: "nul\u{0}here\ttab", body: "nul?here\ttab\r\n"),
        TextCase(text: "escape \u{1B}[31m", body: "escape ?[31m\r\n"),
    ])
    func lineEndsAndControlCharacters(_ example: TextCase) {
        let head = String(decoding: compose(explanation: example.text).head, as: UTF8.self)
        #expect(head.contains("Content-Transfer-Encoding: 7bit\r\n\r\n" + example.body + "\r\n--"), "\(head)")
    }

    @Test func utf8TextIsDeclared8Bit() {
        let report = compose(explanation: "Grüße: nicht zugestellt.")
        let head = String(decoding: report.head, as: UTF8.self)
        #expect(head.contains("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"))
        #expect(report.requires8BitMIME)
    }

    @Test func aVeryLongLineIsCutAtTheHardLimit() {
        let head = String(decoding: compose(explanation: String(repeating: "x", count: 2500)).head, as: UTF8.self)
        #expect(head.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 998 })
    }

    struct HeaderCase: Sendable, CustomTestStringConvertible {
        let message: String
        let id: String?
        var testDescription: String { message.debugDescription }
    }

    @Test(arguments: [
        HeaderCase(message: "Subject: x\r\nMessage-ID: <a@b>\r\n\r\nbody", id: "<a@b>"),
        HeaderCase(message: "message-id:\r\n  <folded@b>\r\nSubject: x\r\n\r\n", id: "<folded@b>"),
        HeaderCase(message: "Subject: x\n\nMessage-ID: <in-body@b>\n", id: nil),
        HeaderCase(message: "Subject: no id\r\n", id: nil),
    ])
    func messageIDFromTheHeaderSection(_ example: HeaderCase) {
        #expect(DSNOriginalHeaders.field(named: "Message-ID", in: Array(example.message.utf8)) == example.id)
    }
}
