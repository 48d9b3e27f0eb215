// SMTPCommand: one parsed SMTP command line. Wire verbs are the case names.
// Produced by SMTPCommandParser; the state machine decides whether it is allowed now.

import PostOfficeCore

/// A command from the client ([RFC 5321 §4.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1)).
enum SMTPCommand: Hashable, Sendable {
    /// EHLO with the client's name.
    case ehlo(String)
    /// HELO with the client's name.
    case helo(String)
    /// MAIL FROM with its reverse-path (nil for `<>`).
    case mail(MailAddress?, MailParameters)
    /// RCPT TO.
    case rcpt(MailAddress, RecipientParameters)
    case data
    /// BDAT with its chunk size and LAST flag ([RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2)).
    case bdat(size: Int, isLast: Bool)
    case rset
    case noop
    case quit
    case vrfy(String)
    case expn(String)
    case help
    case starttls
    case auth
}
