// DSNOutcome: where one recipient stands, in the terms reports are decided on (RFC 3464 §2.3.3 actions):
// failed for good, still delayed, delivered, relayed onward, expanded, or nothing to say yet.

import PostOfficeCore

/// The outcome for one recipient, as input to ``DSNPolicy`` and ``DSNComposer``.
public enum DSNOutcome: Hashable, Sendable {
    /// No final answer and nothing to warn about (not yet tried, or retrying within the warning time).
    case pending
    /// Failed permanently (5.x.x, or retried until the queue lifetime ran out).
    case failed(DSNAttempt)
    /// Failed temporarily; retried until `willRetryUntil`. `warned` is true once a delay report went out,
    /// so at most one is sent.
    case delayed(DSNAttempt, willRetryUntil: MailTime?, warned: Bool)
    /// Delivered into a local mailbox.
    case delivered(DSNAttempt)
    /// Handed to the next hop. When that hop announced DSN it takes over reporting (NOTIFY is passed on),
    /// so this server sends no success report; otherwise the action is `relayed`
    /// ([RFC 3464 §2.3.3](https://www.rfc-editor.org/rfc/rfc3464#section-2.3.3)).
    case relayed(DSNAttempt, remoteSupportsDSN: Bool)
    /// An alias or list expanded to other recipients: action `expanded`
    /// ([RFC 3464 §2.3.3](https://www.rfc-editor.org/rfc/rfc3464#section-2.3.3)).
    case expanded(DSNAttempt)

    /// The report action this outcome is reported with; nil for ``pending``.
    public var action: DSNAction? {
        switch self {
        case .pending: nil
        case .failed: .failed
        case .delayed: .delayed
        case .delivered: .delivered
        case .relayed: .relayed
        case .expanded: .expanded
        }
    }

    /// The attempt behind the outcome; nil for ``pending``.
    public var attempt: DSNAttempt? {
        switch self {
        case .pending: nil
        case .failed(let a), .delayed(let a, _, _), .delivered(let a), .relayed(let a, _), .expanded(let a): a
        }
    }
}
