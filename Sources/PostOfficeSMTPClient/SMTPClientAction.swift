// SMTPClientAction: what the client engine asks its driver to do, in order. The engine does no I/O itself;
// results are actions too, so the driver learns them in the order the session produced them.

import PostOfficeCore

/// One step for the driver of ``SMTPClientStateMachine`` to carry out, in the order given.
public enum SMTPClientAction: Hashable, Sendable {
    /// Write these bytes (commands, or content already dot-stuffed).
    case send([UInt8])
    /// Flush the sends before it, then run the TLS handshake as a client; verify the server's certificate and
    /// name when `verifyingCertificate` ([RFC 3207 §4](https://www.rfc-editor.org/rfc/rfc3207#section-4)).
    /// Call ``SMTPClientStateMachine/tlsEstablished()`` or ``SMTPClientStateMachine/connectionLost()``.
    case startTLS(verifyingCertificate: Bool)
    /// Read the next chunk of message content (any size the driver likes) and pass it to
    /// ``SMTPClientStateMachine/contentAvailable(_:)``, or call ``SMTPClientStateMachine/contentEnded()``.
    case readContent
    /// The final result for one recipient of the current message.
    case recipientResult(SMTPRecipientResult)
    /// The result of the current message as a whole, after its recipient results: delivered when any
    /// recipient was, else deferred when any was, else failed.
    case messageResult(SMTPDeliveryResult)
    /// The session ended early: messages not yet handed to ``SMTPClientStateMachine/deliver(_:)`` get this
    /// result (often ``SMTPDisposition/tryNextHost``). A message in flight already got its own results.
    case sessionFailed(SMTPDeliveryResult)
    /// The session is ready for a message: call ``SMTPClientStateMachine/deliver(_:)`` or
    /// ``SMTPClientStateMachine/quit()``.
    case readyForMessage
    /// The engine paused on a question only the driver can answer; see ``SMTPClientDecisionPoint``.
    case needsDecision(SMTPClientDecisionPoint)
    /// Close the connection after flushing the sends before it.
    case close
}
