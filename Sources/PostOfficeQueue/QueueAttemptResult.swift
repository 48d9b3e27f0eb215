// QueueAttemptResult: what one delivery attempt did for one recipient, as the queue manager reports it to
// QueueStore.record. Named like DeliveryOutcome; a deferral carries the time of the next attempt.

import PostOfficeCore

/// The result of one delivery attempt for one recipient.
public enum QueueAttemptResult: Hashable, Sendable {
    /// Accepted by the next hop; its reply.
    case delivered(String)
    /// A 4.x.x failure: try again at `nextAttempt` (usually from ``RetrySchedule/nextAttempt(arrival:now:isBounce:random:)``).
    case temporaryFailure(EnhancedStatusCode, String, nextAttempt: MailTime)
    /// A 5.x.x failure: give up on this recipient.
    case permanentFailure(EnhancedStatusCode, String)
}
