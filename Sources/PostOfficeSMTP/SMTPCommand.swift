// SMTPCommand: one SMTP command line, in both directions. Wire verbs are the case names.
// SMTPCommandParser reads it from a server's input; SMTPCommand+Wire.swift writes it for a client.

import PostOfficeCore

/// A command from the client ([RFC 5321 §4.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1)).
public enum SMTPCommand: Hashable, Sendable {
    /// EHLO with the client's name.
    case ehlo(String)
    /// HELO with the client's name.
    case helo(String)
    /// LHLO with the client's name: LMTP's EHLO ([RFC 2033 §4.1](https://www.rfc-editor.org/rfc/rfc2033#section-4.1)).
    case lhlo(String)
    /// MAIL FROM with its reverse-path (nil for `<>`).
    case mail(MailAddress?, MailParameters)
    /// RCPT TO.
    case rcpt(MailAddress, RecipientParameters)
    /// DATA: the message follows, dot-stuffed, up to `CRLF.CRLF`.
    case data
    /// BDAT with its chunk size and LAST flag ([RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2)).
    case bdat(size: Int, isLast: Bool)
    /// RSET: abandon the transaction.
    case rset
    /// NOOP.
    case noop
    /// QUIT.
    case quit
    /// VRFY with its argument.
    case vrfy(String)
    /// EXPN with its argument.
    case expn(String)
    /// HELP (any argument is ignored).
    case help
    /// STARTTLS ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)).
    case starttls
    /// AUTH with an upper-cased SASL mechanism name and the optional initial response as sent (base64 or
    /// `=` for empty) ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    case auth(mechanism: String, initialResponse: String?)
    /// ETRN: start the queue for a node ([RFC 1985 §3](https://www.rfc-editor.org/rfc/rfc1985#section-3)).
    case etrn(SMTPQueueNode)
}

/// The argument of ETRN ([RFC 1985 §5](https://www.rfc-editor.org/rfc/rfc1985#section-5)).
public enum SMTPQueueNode: Hashable, Sendable {
    /// `ETRN example.org`: mail for that domain (lower case).
    case domain(String)
    /// `ETRN @example.org`: mail for the domain and its subdomains (lower case, without the `@`).
    case domainAndSubdomains(String)
    /// `ETRN #name`: a named queue (as sent, without the `#`).
    case queue(String)

    /// The node as the client wrote it (for replies).
    public var text: String {
        switch self {
        case .domain(let name): name
        case .domainAndSubdomains(let name): "@" + name
        case .queue(let name): "#" + name
        }
    }
}
