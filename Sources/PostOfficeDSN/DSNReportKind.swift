// DSNReportKind: the four reports this server sends — failure, delay warning, success, and the double
// bounce to the postmaster — with the Subject each carries.

/// Which report a ``DSNPlan`` is.
public enum DSNReportKind: String, Hashable, Sendable, CaseIterable {
    /// Permanent failures, to the sender.
    case failure
    /// A one-time warning that delivery is taking long, to the sender.
    case delay
    /// Delivered / relayed to a hop without DSN / expanded, when the sender asked with NOTIFY=SUCCESS.
    case success
    /// A report (null reverse-path) that could not be delivered, to the postmaster, once.
    case doubleBounce

    /// The report's Subject.
    public var subject: String {
        switch self {
        case .failure: "Undelivered Mail Returned to Sender"
        case .delay: "Delayed Mail (still being retried)"
        case .success: "Successful Mail Delivery Report"
        case .doubleBounce: "Postmaster Notice: Undeliverable Delivery Report"
        }
    }
}
