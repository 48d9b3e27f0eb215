// SMTPCommandParserTests: tables of valid command lines (with their parsed form) and invalid ones (with the
// reply code and enhanced code they must get).

import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPCommandParserTests {
    static let parser = SMTPCommandParser(configuration: SMTPServerConfiguration(hostname: "mx.example.test"))

    static func address(_ text: String) -> MailAddress { MailAddress(text)! }

    static let valid: [(String, SMTPCommand)] = [
        ("EHLO client.example.org", .ehlo("client.example.org")),
        ("ehlo [192.0.2.1]", .ehlo("[192.0.2.1]")),
        ("EHLO   spaced.example  ", .ehlo("spaced.example")),
        ("HELO x", .helo("x")),
        ("MAIL FROM:<a@b.example>", .mail(address("a@b.example"), MailParameters())),
        ("mail from:<a@b.example>", .mail(address("a@b.example"), MailParameters())),
        ("MAIL FROM: <a@b.example>", .mail(address("a@b.example"), MailParameters())),
        ("MAIL FROM:<>", .mail(nil, MailParameters())),
        ("MAIL FROM:<> SIZE=0", .mail(nil, MailParameters(size: 0))),
        ("MAIL FROM:<a@b.example> SIZE=1000", .mail(address("a@b.example"), MailParameters(size: 1000))),
        ("MAIL FROM:<a@b.example> size=1000 ", .mail(address("a@b.example"), MailParameters(size: 1000))),
        ("MAIL FROM:<a@b.example> BODY=7BIT", .mail(address("a@b.example"), MailParameters(body: .sevenBit))),
        ("MAIL FROM:<a@b.example> BODY=8bitmime", .mail(address("a@b.example"), MailParameters(body: .eightBitMIME))),
        ("MAIL FROM:<a@b.example> BODY=BINARYMIME", .mail(address("a@b.example"), MailParameters(body: .binaryMIME))),
        ("MAIL FROM:<a@b.example> SMTPUTF8", .mail(address("a@b.example"), MailParameters(isSMTPUTF8: true))),
        ("MAIL FROM:<ü@b.example> SMTPUTF8", .mail(address("ü@b.example"), MailParameters(isSMTPUTF8: true))),
        ("MAIL FROM:<a@b.example> RET=FULL", .mail(address("a@b.example"), MailParameters(dsnReturn: .full))),
        ("MAIL FROM:<a@b.example> RET=hdrs", .mail(address("a@b.example"), MailParameters(dsnReturn: .headers))),
        ("MAIL FROM:<a@b.example> ENVID=QQ+2B+3Dx", .mail(address("a@b.example"), MailParameters(envelopeID: "QQ+=x"))),
        (
            "MAIL FROM:<a@b.example> SIZE=5 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=e1",
            .mail(
                address("a@b.example"),
                MailParameters(size: 5, body: .eightBitMIME, isSMTPUTF8: true, dsnReturn: .full, envelopeID: "e1"))
        ),
        ("RCPT TO:<c@d.example>", .rcpt(address("c@d.example"), RecipientParameters())),
        (
            "RCPT TO:<Postmaster>",
            .rcpt(MailAddress(localPart: "Postmaster", domain: "mx.example.test"), RecipientParameters())
        ),
        ("RCPT TO:<c@d.example> NOTIFY=NEVER", .rcpt(address("c@d.example"), RecipientParameters(dsnNotify: .never))),
        (
            "RCPT TO:<c@d.example> NOTIFY=SUCCESS,DELAY",
            .rcpt(address("c@d.example"), RecipientParameters(dsnNotify: [.success, .delay]))
        ),
        (
            "RCPT TO:<c@d.example> ORCPT=rfc822;c+40d.example",
            .rcpt(
                address("c@d.example"),
                RecipientParameters(originalRecipient: .init(addressType: "rfc822", address: "c@d.example")))
        ),
        ("DATA", .data),
        ("data", .data),
        ("BDAT 0 LAST", .bdat(size: 0, isLast: true)),
        ("BDAT 1000", .bdat(size: 1000, isLast: false)),
        ("bdat 7 last", .bdat(size: 7, isLast: true)),
        ("RSET", .rset),
        ("NOOP", .noop),
        ("NOOP ignored words", .noop),
        ("QUIT", .quit),
        ("VRFY alice", .vrfy("alice")),
        ("EXPN list", .expn("list")),
        ("HELP", .help),
        ("HELP MAIL", .help),
        ("STARTTLS", .starttls),
        ("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
        ("auth login dXNlcg==", .auth(mechanism: "LOGIN", initialResponse: "dXNlcg==")),
        ("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "=")),
    ]

    static let invalid: [(String, Int, String)] = [
        ("", 500, "5.5.2"),
        ("FROB", 500, "5.5.2"),
        ("MAILFROM:<a@b.example>", 500, "5.5.2"),
        ("EHLO", 501, "5.5.4"),
        ("HELO   ", 501, "5.5.4"),
        ("MAIL", 501, "5.5.4"),
        ("MAIL TO:<a@b.example>", 501, "5.5.4"),
        ("MAIL FROM:", 501, "5.5.4"),
        ("MAIL FROM:a@b.example", 501, "5.1.7"),
        ("MAIL FROM:<a@b.example", 501, "5.1.7"),
        ("MAIL FROM:<a b@b.example>", 501, "5.1.7"),
        ("MAIL FROM:<@b.example>", 501, "5.1.7"),
        ("MAIL FROM:<a@>", 501, "5.1.7"),
        ("MAIL FROM:<a@b..example>", 501, "5.1.7"),
        ("MAIL FROM:<a@b.example.>", 501, "5.1.7"),
        ("MAIL FROM:<postmaster>", 501, "5.1.7"),
        ("MAIL FROM:<a@b.example> SIZE", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE=", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE=-1", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE=1e3", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE=26214401", 552, "5.3.4"),
        ("MAIL FROM:<a@b.example> SIZE=123456789012345678901", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> BODY=", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> BODY=BINARY", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> SMTPUTF8=yes", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> RET=ALL", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> ENVID=a+zz", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> ENVID=a+2", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> ENVID=\(String(repeating: "x", count: 101))", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> RET=FULL RET=HDRS", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> -X=1", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> X=", 501, "5.5.4"),
        ("MAIL FROM:<a@b.example> AUTH=<>", 555, "5.5.4"),
        ("MAIL FROM:<a@b.example> XVERP", 555, "5.5.4"),
        ("MAIL FROM:<ü@b.example>", 553, "5.6.7"),
        ("MAIL FROM:<a@bü.example>", 553, "5.6.7"),
        ("RCPT", 501, "5.5.4"),
        ("RCPT TO:", 501, "5.5.4"),
        ("RCPT FROM:<a@b.example>", 501, "5.5.4"),
        ("RCPT TO:<>", 501, "5.1.3"),
        ("RCPT TO:<a@b.example>>", 501, "5.5.4"),
        ("RCPT TO:<postmaster@>", 501, "5.1.3"),
        ("RCPT TO:<\"postmaster\">", 501, "5.1.3"),
        ("RCPT TO:<ü@b.example>", 553, "5.6.7"),
        ("RCPT TO:<a@b.example> NOTIFY=", 501, "5.5.4"),
        ("RCPT TO:<a@b.example> NOTIFY=NEVER,DELAY", 501, "5.5.4"),
        ("RCPT TO:<a@b.example> NOTIFY=SUCCESS,", 501, "5.5.4"),
        ("RCPT TO:<a@b.example> ORCPT=;a@b", 501, "5.5.4"),
        ("RCPT TO:<a@b.example> ORCPT=rfc822;", 501, "5.5.4"),
        ("RCPT TO:<a@b.example> ORCPT=rfc 822;a", 501, "5.5.4"),
        ("RCPT TO:<a@b.example> SIZE=10", 555, "5.5.4"),
        ("DATA x", 501, "5.5.4"),
        ("BDAT", 501, "5.5.4"),
        ("BDAT x", 501, "5.5.4"),
        ("BDAT 1 2", 501, "5.5.4"),
        ("BDAT 1 LAST x", 501, "5.5.4"),
        ("BDAT +1", 501, "5.5.4"),
        ("BDAT 1234567890123456789", 501, "5.5.4"),
        ("RSET x", 501, "5.5.4"),
        ("QUIT now", 501, "5.5.4"),
        ("VRFY", 501, "5.5.4"),
        ("EXPN", 501, "5.5.4"),
        ("STARTTLS now", 501, "5.5.4"),
        ("NOOP\u{0}", 500, "5.5.2"),
        ("NOOP\r", 500, "5.5.2"),
        ("NO\rOP", 500, "5.5.2"),
        ("NOOP\t", 500, "5.5.2"),
        ("NOOP \u{7F}", 500, "5.5.2"),
        ("MAIL FROM:<a\u{1B}@b.example>", 500, "5.5.2"),
    ]

    @Test(arguments: valid)
    func validCommand(line: String, expected: SMTPCommand) {
        #expect(Self.parser.parse(Array(line.utf8), allowsUTF8Recipient: false) == .command(expected))
    }

    @Test(arguments: invalid)
    func invalidCommand(line: String, code: Int, enhanced: String) {
        guard case .failure(let reply) = Self.parser.parse(Array(line.utf8)) else {
            Issue.record("\(line.debugDescription) was accepted")
            return
        }
        #expect(reply.code == code, "\(line.debugDescription): \(reply)")
        #expect(reply.enhancedCode?.description == enhanced, "\(line.debugDescription): \(reply)")
    }

    @Test func invalidUTF8IsRefused() {
        let outcome = Self.parser.parse(Array("NOOP ".utf8) + [0xC3, 0x28])
        #expect(outcome == .failure(.invalidCharacters))
    }

    @Test func utf8RecipientNeedsAnSMTPUTF8Transaction() {
        let line = Array("RCPT TO:<jörg@example.test>".utf8)
        #expect(Self.parser.parse(line, allowsUTF8Recipient: false) == .failure(.utf8AddressNotPermitted))
        #expect(
            Self.parser.parse(line, allowsUTF8Recipient: true)
                == .command(.rcpt(MailAddress(localPart: "jörg", domain: "example.test"), RecipientParameters())))
    }

    @Test(
        arguments: [
            ("MAIL FROM:<a@b.example> BODY=8BITMIME", \SMTPServerConfiguration.is8BitMIMEEnabled),
            ("MAIL FROM:<a@b.example> SMTPUTF8", \SMTPServerConfiguration.isSMTPUTF8Enabled),
            ("MAIL FROM:<a@b.example> RET=FULL", \SMTPServerConfiguration.isDSNEnabled),
            ("MAIL FROM:<a@b.example> ENVID=x", \SMTPServerConfiguration.isDSNEnabled),
            ("MAIL FROM:<a@b.example> BODY=BINARYMIME", \SMTPServerConfiguration.isChunkingEnabled),
            ("RCPT TO:<a@b.example> NOTIFY=NEVER", \SMTPServerConfiguration.isDSNEnabled),
            ("RCPT TO:<a@b.example> ORCPT=rfc822;a@b.example", \SMTPServerConfiguration.isDSNEnabled),
        ] as [(String, WritableKeyPath<SMTPServerConfiguration, Bool> & Sendable)])
    func parametersOfDisabledExtensionsAreUnknown(
        line: String, switch key: WritableKeyPath<SMTPServerConfiguration, Bool> & Sendable
    ) {
        var configuration = SMTPServerConfiguration(hostname: "mx.example.test")
        #expect(SMTPCommandParser(configuration: configuration).parse(Array(line.utf8)).isCommand)
        configuration[keyPath: key] = false
        guard case .failure(let reply) = SMTPCommandParser(configuration: configuration).parse(Array(line.utf8)) else {
            Issue.record("\(line) accepted with the extension off")
            return
        }
        #expect(reply.code == 555)
    }
}

extension SMTPCommandParser.Outcome {
    var isCommand: Bool { if case .command = self { true } else { false } }
}
