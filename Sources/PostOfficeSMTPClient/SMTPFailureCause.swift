// SMTPFailureCause: what happened, the first input of the error-class table: a server reply, the connection
// going away, silence, a broken reply, or a decision the engine made itself (SIZE, TLS required, ...).

import PostOfficeCore
import PostOfficeSMTP

/// The event behind an ``SMTPDeliveryResult``.
public enum SMTPFailureCause: Hashable, Sendable {
    /// The server's reply.
    case reply(SMTPReply)
    /// The connection closed or failed (a TLS handshake failure included).
    case connectionLost
    /// The driver's timer ran out waiting for the server.
    case timedOut
    /// The server's bytes were not a valid reply, or a reply came that nothing asked for.
    case protocolViolation(String)
    /// The engine decided without asking the server (message too big for SIZE, SMTPUTF8 not offered,
    /// TLS required but not offered): the enhanced code and the reason, for the DSN.
    case local(EnhancedStatusCode, String)
}
