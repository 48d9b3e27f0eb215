// SASLFailure: why a SASL exchange ended without credentials. Each protocol maps these to its own reply
// (SMTP 501 5.5.2 / 5.7.0, POP3 -ERR [AUTH] ...), so the wording stays with the protocol.

/// How a SASL exchange failed ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4),
/// [RFC 5034 §4](https://www.rfc-editor.org/rfc/rfc5034#section-4)).
public enum SASLFailure: Error, Hashable, Sendable {
    /// The client answered `*`: it gave up the exchange.
    case cancelled
    /// A response was not valid base64.
    case invalidBase64
    /// The decoded message does not fit the mechanism (PLAIN without two NULs, text that is not UTF-8).
    case malformedMessage
    /// A response came after the exchange had already finished (or a challenge beyond the mechanism's last).
    case unexpectedStep
}
