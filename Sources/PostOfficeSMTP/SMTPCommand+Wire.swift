// The client direction of SMTPCommand: its exact command line, parameters included, for an SMTP client.
// Every command written here reads back as itself through SMTPCommandParser (the round-trip tests pin it).

import PostOfficeCore

extension SMTPCommand {
    /// The command line as sent, CRLF included
    /// ([RFC 5321 §4.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1)). Verbs and parameter
    /// keywords are upper case; MAIL and RCPT parameters follow
    /// [RFC 1870](https://www.rfc-editor.org/rfc/rfc1870), [RFC 6152](https://www.rfc-editor.org/rfc/rfc6152),
    /// [RFC 6531](https://www.rfc-editor.org/rfc/rfc6531), [RFC 3461](https://www.rfc-editor.org/rfc/rfc3461)
    /// (ENVID and ORCPT as xtext) and [RFC 4954 §5](https://www.rfc-editor.org/rfc/rfc4954#section-5) (AUTH as xtext).
    ///
    /// The strings it carries are written as given: a client builds commands from validated values (a
    /// CR or LF in a name would end the line early).
    public var wireBytes: [UInt8] {
        Array(commandLine.utf8) + [13, 10]
    }

    /// The command line without its CRLF, for logs.
    public var commandLine: String {
        switch self {
        case .ehlo(let name): "EHLO \(name)"
        case .helo(let name): "HELO \(name)"
        case .lhlo(let name): "LHLO \(name)"
        case .mail(let reversePath, let parameters):
            "MAIL FROM:<\(reversePath.map(\.description) ?? "")>" + Self.words(parameters)
        case .rcpt(let forwardPath, let parameters):
            "RCPT TO:<\(forwardPath)>" + Self.words(parameters)
        case .data: "DATA"
        case .bdat(let size, let isLast): isLast ? "BDAT \(size) LAST" : "BDAT \(size)"
        case .rset: "RSET"
        case .noop: "NOOP"
        case .quit: "QUIT"
        case .vrfy(let argument): "VRFY \(argument)"
        case .expn(let argument): "EXPN \(argument)"
        case .help: "HELP"
        case .starttls: "STARTTLS"
        case .auth(let mechanism, let initialResponse?): "AUTH \(mechanism) \(initialResponse)"
        case .auth(let mechanism, nil): "AUTH \(mechanism)"
        case .etrn(let node): "ETRN \(node.text)"
        }
    }

    /// ` SIZE=n BODY=x SMTPUTF8 RET=x ENVID=xtext AUTH=xtext`, leaving out what is at its default.
    private static func words(_ parameters: MailParameters) -> String {
        var words: [String] = []
        if let size = parameters.size { words.append("SIZE=\(size)") }
        // BODY=7BIT is the default: saying nothing means the same.
        if parameters.body != .sevenBit { words.append("BODY=\(parameters.body.rawValue)") }
        if parameters.isSMTPUTF8 { words.append("SMTPUTF8") }
        if let dsnReturn = parameters.dsnReturn { words.append("RET=\(dsnReturn.rawValue)") }
        if let envelopeID = parameters.envelopeID { words.append("ENVID=\(SMTPXText.encode(envelopeID))") }
        if let submitter = parameters.submitter { words.append("AUTH=\(SMTPXText.encode(submitter))") }
        return words.map { " " + $0 }.joined()
    }

    /// ` NOTIFY=... ORCPT=type;xtext`.
    private static func words(_ parameters: RecipientParameters) -> String {
        var words: [String] = []
        if let notify = parameters.dsnNotify {
            let names = [(RecipientParameters.DSNNotify.success, "SUCCESS"), (.failure, "FAILURE"), (.delay, "DELAY")]
                .filter { notify.contains($0.0) }.map(\.1)
            words.append("NOTIFY=" + (names.isEmpty ? "NEVER" : names.joined(separator: ",")))
        }
        if let original = parameters.originalRecipient {
            words.append("ORCPT=\(original.addressType);\(SMTPXText.encode(original.address))")
        }
        return words.map { " " + $0 }.joined()
    }
}
