// SMTPAction: what the engine asks its driver to do, in order. The engine does no I/O itself.
// Checks and commits pause the engine until the matching resolve call.

import PostOfficeCore
import PostOfficeSASL

/// One step for the driver of ``SMTPServerStateMachine`` to carry out, in the order given.
public enum SMTPAction: Hashable, Sendable {
    /// Write this reply.
    case send(SMTPReply)
    /// Wait this long before carrying out the following actions (the client passed the soft error limit).
    case delay(milliseconds: Int)
    /// Decide on the reverse-path (nil is `<>`); the engine pauses until
    /// ``SMTPServerStateMachine/resolveSender(_:)``.
    case checkSender(MailAddress?, MailParameters)
    /// Decide on a recipient; the engine pauses until ``SMTPServerStateMachine/resolveRecipient(_:)``.
    case checkRecipient(MailAddress, RecipientParameters)
    /// Message content follows (after the 354 to DATA, or before the first BDAT chunk): open storage.
    case beginMessage(SMTPEnvelope)
    /// The next content bytes: dot-unstuffed, lines ending in CRLF (bare LF made CRLF) for DATA; exact for BDAT.
    case appendMessage([UInt8])
    /// The content is complete: store it durably, then call ``SMTPServerStateMachine/resolveMessage(_:)``.
    case commitMessage
    /// Discard what was stored since ``beginMessage(_:)`` (oversize, RSET between chunks, timeout...).
    /// The engine sends its own reply.
    case abortMessage
    /// Check these SASL credentials (PLAIN, or LOGIN with an empty authorization identity); the engine pauses
    /// until ``SMTPServerStateMachine/resolveAuthentication(_:)``. Any delay after a failure (against
    /// password guessing) is the driver's: it answers when it likes.
    case authenticate(PlainCredentials)
    /// Start the TLS handshake after flushing the sends before it, then call
    /// ``SMTPServerStateMachine/tlsEstablished()`` (only when STARTTLS is configured).
    case startTLS
    /// ETRN for an allowed domain: make its queued mail due and try it now, then call
    /// ``SMTPServerStateMachine/resolveQueueRun(_:)`` (`.accept`, or `.reject` with 458 when it cannot).
    case startQueueRun(SMTPQueueNode)
    /// Close the connection after flushing the sends before it.
    case close
}
