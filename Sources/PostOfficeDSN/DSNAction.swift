// DSNAction: the Action field values of RFC 3464 §2.3.3, one per recipient in a report.

/// The `Action` of a per-recipient group ([RFC 3464 §2.3.3](https://www.rfc-editor.org/rfc/rfc3464#section-2.3.3)).
public enum DSNAction: String, Hashable, Sendable, CaseIterable {
    case failed
    case delayed
    case delivered
    case relayed
    case expanded
}
