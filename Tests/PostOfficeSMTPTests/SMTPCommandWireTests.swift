// SMTPCommandWireTests: every command, parameters included, is written as its exact line and parses back
// to itself through the server's command parser.

import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPCommandWireTests {
    static let parser = SMTPCommandParser(configuration: SMTPServerConfiguration(hostname: "mx.example.test"))
    static func address(_ text: String) -> MailAddress { MailAddress(text)! }

    static let commands: [(SMTPCommand, String)] = [
        (.ehlo("client.example.org"), "EHLO client.example.org"),
        (.helo("[192.0.2.1]"), "HELO [192.0.2.1]"),
        (.mail(nil, MailParameters()), "MAIL FROM:<>"),
        (.mail(address("a@b.example"), MailParameters()), "MAIL FROM:<a@b.example>"),
        (.mail(MailAddress(localPart: "a b", domain: "b.example"), MailParameters()), "MAIL FROM:<\"a b\"@b.example>"),
        (.mail(address("a@b.example"), MailParameters(size: 0)), "MAIL FROM:<a@b.example> SIZE=0"),
        (.mail(address("a@b.example"), MailParameters(body: .eightBitMIME)), "MAIL FROM:<a@b.example> BODY=8BITMIME"),
        (.mail(address("a@b.example"), MailParameters(body: .binaryMIME)), "MAIL FROM:<a@b.example> BODY=BINARYMIME"),
        (.mail(address("ü@b.example"), MailParameters(isSMTPUTF8: true)), "MAIL FROM:<ü@b.example> SMTPUTF8"),
        (.mail(nil, MailParameters(dsnReturn: .headers)), "MAIL FROM:<> RET=HDRS"),
        (.mail(nil, MailParameters(envelopeID: "QQ+=x y")), "MAIL FROM:<> ENVID=QQ+2B+3Dx+20y"),
        (
            .mail(
                address("a@b.example"),
                MailParameters(size: 5, body: .eightBitMIME, isSMTPUTF8: true, dsnReturn: .full, envelopeID: "é1")),
            "MAIL FROM:<a@b.example> SIZE=5 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=+C3+A91"
        ),
        (.rcpt(address("c@d.example"), RecipientParameters()), "RCPT TO:<c@d.example>"),
        (.rcpt(address("c@d.example"), RecipientParameters(dsnNotify: .never)), "RCPT TO:<c@d.example> NOTIFY=NEVER"),
        (
            .rcpt(address("c@d.example"), RecipientParameters(dsnNotify: [.delay, .success, .failure])),
            "RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE,DELAY"
        ),
        (
            .rcpt(
                address("c@d.example"),
                RecipientParameters(
                    dsnNotify: .failure, originalRecipient: .init(addressType: "rfc822", address: "c+x=1@d.example"))),
            "RCPT TO:<c@d.example> NOTIFY=FAILURE ORCPT=rfc822;c+2Bx+3D1@d.example"
        ),
        (.data, "DATA"),
        (.bdat(size: 0, isLast: true), "BDAT 0 LAST"),
        (.bdat(size: 1000, isLast: false), "BDAT 1000"),
        (.rset, "RSET"),
        (.noop, "NOOP"),
        (.quit, "QUIT"),
        (.vrfy("postmaster"), "VRFY postmaster"),
        (.expn("staff"), "EXPN staff"),
        (.help, "HELP"),
        (.starttls, "STARTTLS"),
        (.auth(mechanism: "PLAIN", initialResponse: nil), "AUTH PLAIN"),
        (.auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHNlY3JldA=="), "AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
        (.auth(mechanism: "PLAIN", initialResponse: "="), "AUTH PLAIN ="),
        (.auth(mechanism: "LOGIN", initialResponse: nil), "AUTH LOGIN"),
    ]

    @Test(arguments: commands)
    func writesExactLine(command: SMTPCommand, line: String) {
        #expect(command.commandLine == line)
        #expect(command.wireBytes == Array((line + "\r\n").utf8))
    }

    @Test(arguments: commands)
    func parsesBackToItself(command: SMTPCommand, line: String) {
        let utf8 = if case .mail(_, let parameters) = command { parameters.isSMTPUTF8 } else { false }
        #expect(Self.parser.parse(Array(command.wireBytes.dropLast(2)), allowsUTF8Recipient: utf8) == .command(command))
    }

    @Test func xtextRoundTrips() {
        for text in ["", "plain", "+=", "a b\tc", "ü€𝄞", "\u{7F}~!"] {
            #expect(SMTPXText.decode(Array(SMTPXText.encode(text).utf8)) == text)
        }
    }

    @Test(arguments: ["AUTH", "AUTH PLAIN a b", "AUTH PL@IN", "AUTH \(String(repeating: "X", count: 21))", "AUTH PLAIN a*b"])
    func malformedAuthIsSyntaxError(line: String) {
        guard case .failure(let reply) = Self.parser.parse(Array(line.utf8)) else {
            Issue.record("\(line) parsed")
            return
        }
        #expect(reply.code == 501)
    }
}
