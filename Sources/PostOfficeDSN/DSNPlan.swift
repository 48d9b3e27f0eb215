// DSNPlan: one report DSNPolicy decided to send — its kind, who gets it, and which recipients it covers
// (the caller records those as reported, e.g. marks delayed ones as warned).

import PostOfficeCore

/// A report to make: ``DSNPolicy``'s answer, ``DSNComposer``'s input.
public struct DSNPlan: Hashable, Sendable {
    public var kind: DSNReportKind
    /// The report's envelope recipient and `To:`: the original sender, or the postmaster for a double bounce.
    public var to: MailAddress
    /// Indices into ``DSNEnvelope/recipients`` that the report covers, in envelope order.
    public var recipients: [Int]

    public init(kind: DSNReportKind, to: MailAddress, recipients: [Int]) {
        self.kind = kind
        self.to = to
        self.recipients = recipients
    }
}
