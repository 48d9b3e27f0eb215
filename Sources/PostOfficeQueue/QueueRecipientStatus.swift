// QueueRecipientStatus: where one recipient stands. The same vocabulary as DeliveryOutcome in
// PostOfficeDelivery (delivered / temporaryFailure / permanentFailure with RFC 3463 codes) plus `pending`.

import PostOfficeCore

/// The delivery status of one recipient of a queued message. Parallel to `DeliveryOutcome`; the queue
/// cannot import PostOfficeDelivery, so it repeats the names.
public enum QueueRecipientStatus: Hashable, Sendable {
    /// No attempt yet.
    case pending
    /// Delivered; the remote server's reply (or a local note).
    case delivered(String)
    /// The last attempt failed with a 4.x.x code; another is due at ``QueueRecipientState/nextAttempt``
    /// ([RFC 3463](https://www.rfc-editor.org/rfc/rfc3463)).
    case temporaryFailure(EnhancedStatusCode, String)
    /// Failed for good (5.x.x, or the queue lifetime ran out); awaiting a bounce.
    case permanentFailure(EnhancedStatusCode, String)

    /// True when no further attempt will be made.
    public var isFinal: Bool {
        switch self {
        case .pending, .temporaryFailure: false
        case .delivered, .permanentFailure: true
        }
    }

    /// The last reply's text; empty while pending.
    public var reply: String {
        switch self {
        case .pending: ""
        case .delivered(let text), .temporaryFailure(_, let text), .permanentFailure(_, let text): text
        }
    }
}
