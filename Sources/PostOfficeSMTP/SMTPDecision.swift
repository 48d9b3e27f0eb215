// SMTPDecision: the driver's answer to a paused check (sender, recipient, stored message).

/// How the driver resolves ``SMTPAction/checkSender(_:_:)``, ``SMTPAction/checkRecipient(_:_:)`` or
/// ``SMTPAction/commitMessage``.
public enum SMTPDecision: Hashable, Sendable {
    /// Go ahead; the engine sends its standard 2xx reply.
    case accept
    /// Go ahead, answering with this 2xx reply instead (such as ``SMTPReply/messageAccepted(id:)``).
    /// A reply that is not 2xx is treated as ``reject(_:)``.
    case acceptReplying(SMTPReply)
    /// Refuse with this 4xx/5xx reply (``SMTPReply/unknownUser``, ``SMTPReply/relayDenied``,
    /// ``SMTPReply/temporaryFailure``...).
    case reject(SMTPReply)
}
