// SMTPClientConfiguration: what one client session is told by its driver: our name, the TLS policy, smarthost
// credentials, and whether this host is the last one to try for the destination (it changes the error classes).

import PostOfficeSASL
import PostOfficeSMTP

/// The settings of one ``SMTPClientStateMachine`` session.
public struct SMTPClientConfiguration: Sendable {
    /// The name sent with EHLO/HELO ([RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1)):
    /// this host's fully qualified name, or an address literal.
    public var clientName: String
    /// When to use STARTTLS.
    public var tlsPolicy: SMTPClientTLSPolicy
    /// Credentials for AUTH PLAIN/LOGIN ([RFC 4954](https://www.rfc-editor.org/rfc/rfc4954)) with a smarthost;
    /// sent only over TLS. Nil: no AUTH.
    public var credentials: PlainCredentials?
    /// This is the last MX (or the only smarthost) for the destination: a soft session error is then a
    /// deferral rather than "try the next host" (see ``SMTPErrorClassification``).
    public var isFinalHost: Bool
    /// Batch MAIL, RCPT and DATA when the server offers PIPELINING ([RFC 2920](https://www.rfc-editor.org/rfc/rfc2920)).
    public var usesPipelining: Bool
    /// Send content with BDAT when the server offers CHUNKING ([RFC 3030](https://www.rfc-editor.org/rfc/rfc3030)).
    public var usesChunking: Bool
    /// Longest reply line accepted from the server.
    public var maximumReplyLineLength: Int

    public init(
        clientName: String, tlsPolicy: SMTPClientTLSPolicy = .may, credentials: PlainCredentials? = nil,
        isFinalHost: Bool = true, usesPipelining: Bool = true, usesChunking: Bool = false,
        maximumReplyLineLength: Int = SMTPReplyParser.defaultMaximumLineLength
    ) {
        self.clientName = clientName
        self.tlsPolicy = tlsPolicy
        self.credentials = credentials
        self.isFinalHost = isFinalHost
        self.usesPipelining = usesPipelining
        self.usesChunking = usesChunking
        self.maximumReplyLineLength = maximumReplyLineLength
    }
}
