// QueueRecipientState: the mutable progress of one recipient — status, attempt count, when to try next.
// Lives in the state file, indexed like QueueEnvelope.recipients.

import PostOfficeCore

/// The delivery progress of one recipient.
public struct QueueRecipientState: Hashable, Sendable {
    public var status: QueueRecipientStatus
    /// Attempts made so far.
    public var attempts: Int
    /// When the next attempt is due (meaningful while pending or temporarily failed).
    public var nextAttempt: MailTime
    /// When the last attempt ended, if any.
    public var lastAttempt: MailTime?
    /// True once the permanent failure was dealt with: a failure report covering it was queued, or none
    /// was wanted (NOTIFY=NEVER, a failed double bounce). Such a recipient is never reported again.
    public var isReported: Bool
    /// The server the last attempt talked to (`mx.example.net`), as the transport named it; nil when the
    /// attempt reached no server. A report's `Remote-MTA` (RFC 3464 §2.3.5) comes from here, never from
    /// the reply text.
    public var remoteHost: String?

    public init(
        status: QueueRecipientStatus = .pending, attempts: Int = 0, nextAttempt: MailTime, lastAttempt: MailTime? = nil,
        isReported: Bool = false, remoteHost: String? = nil
    ) {
        self.status = status
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.lastAttempt = lastAttempt
        self.isReported = isReported
        self.remoteHost = remoteHost
    }
}
