// QueueMessageState: a message's state — held or not, and each recipient's progress. A whole new one is
// appended to the message file (and fsync'd) on every change; the body never changes.

import PostOfficeCore

/// The mutable state of a queued message.
public struct QueueMessageState: Hashable, Sendable {
    /// A held message is kept but not attempted until released.
    public var isHeld: Bool
    /// One entry per envelope recipient, same order.
    public var recipients: [QueueRecipientState]
    /// True once a delay warning went to the sender: at most one per message (RFC 3461 §4.1 DELAY).
    public var isDelayWarned: Bool

    public init(isHeld: Bool = false, recipients: [QueueRecipientState], isDelayWarned: Bool = false) {
        self.isHeld = isHeld
        self.recipients = recipients
        self.isDelayWarned = isDelayWarned
    }

    /// The initial state: every recipient pending, due at `time`.
    public init(recipientCount: Int, dueAt time: MailTime) {
        self.init(recipients: Array(repeating: QueueRecipientState(nextAttempt: time), count: recipientCount))
    }

    /// The earliest next attempt among recipients still to be tried; nil when all are final.
    public var nextAttempt: MailTime? {
        recipients.filter { !$0.status.isFinal }.map(\.nextAttempt).min()
    }

    /// True when every recipient is delivered or permanently failed.
    public var isFinished: Bool { recipients.allSatisfy { $0.status.isFinal } }

    /// True when some recipient failed permanently.
    public var hasPermanentFailures: Bool {
        recipients.contains { if case .permanentFailure = $0.status { true } else { false } }
    }
}
