// SMTPClientStage: where in the session a reply or event came, the second input of the error-class table.
// The session stages (before MAIL) concern the host; the transaction stages concern one message.

/// A step of the client session ([RFC 5321 §3](https://www.rfc-editor.org/rfc/rfc5321#section-3)).
public enum SMTPClientStage: String, Hashable, Sendable, CaseIterable {
    /// Connected, no command outstanding (idle between messages, or before the greeting's first byte).
    case connection
    /// Waiting for the 220 greeting.
    case greeting
    /// EHLO or HELO.
    case hello
    /// STARTTLS and its handshake.
    case startTLS
    /// AUTH.
    case authentication
    /// RSET before reusing the connection.
    case reset
    /// MAIL FROM, and checks the engine makes before it (SIZE, 8BITMIME, SMTPUTF8).
    case mail
    /// RCPT TO.
    case recipient
    /// DATA, up to its 354.
    case data
    /// The content and the reply after the final `.` (or after BDAT).
    case messageContent
    /// QUIT.
    case quit

    /// Before any transaction: a failure here says something about the host, not about a message.
    public var isSessionStage: Bool {
        switch self {
        case .connection, .greeting, .hello, .startTLS, .authentication: true
        case .reset, .mail, .recipient, .data, .messageContent, .quit: false
        }
    }
}
