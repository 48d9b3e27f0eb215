// ReportReview: puts each report before the embedder's checkReport hook before it is queued or stored —
// builds the OutgoingReport the hook sees, turns a hook that throws into "send it unchanged", and logs a
// suppression with its reason. Called on the storage pool (the hook may block).

import PostOfficeCore
import PostOfficeDSN

/// The embedder's say on a report (``PostOfficeHooks/checkReport``).
struct ReportReview: Sendable {
    enum Verdict: Equatable {
        /// Send; with replacement text for the human-readable part, or nil for the server's own.
        case send(explanation: String?)
        case suppress
    }

    var hook: (@Sendable (OutgoingReport) throws -> ReportDecision)?
    var logSink: any LogSink

    /// Asks the hook about the report `plan` describes. `originalMessageID` is called only when there is a
    /// hook (it reads the original's header section).
    func review(
        _ plan: DSNPlan, envelope: DSNEnvelope, outcomes: [DSNOutcome], composer: DSNComposer, queueID: String,
        originalMessageID: () -> String?
    ) -> Verdict {
        guard let hook else { return .send(explanation: nil) }
        let kind = Self.kind(plan.kind)
        var lines = composer.explanation(plan, envelope: envelope, outcomes: outcomes)
        while lines.last == "" { lines.removeLast() }
        let recipients: [OutgoingReport.Recipient] = plan.recipients.compactMap { index in
            guard envelope.recipients.indices.contains(index), index < outcomes.count,
                let action = outcomes[index].action, let attempt = outcomes[index].attempt
            else { return nil }
            return OutgoingReport.Recipient(
                address: envelope.recipients[index].address, action: action.rawValue, status: attempt.status.description,
                remoteMTA: attempt.remoteMTA, diagnostic: attempt.reply)
        }
        let report = OutgoingReport(
            kind: kind, to: plan.to, sender: envelope.reversePath, originalMessageID: originalMessageID(), queueID: queueID,
            recipients: recipients, text: lines.joined(separator: "\n"))
        let decision: ReportDecision
        do {
            decision = try hook(report)
        } catch {
            logSink.log(LogRecord(.warning, "report.hook_failed", [
                ("queue_id", queueID), ("kind", kind.rawValue), ("to", plan.to.description), ("error", "\(error)"),
                ("action", "sent unchanged"),
            ]))
            return .send(explanation: nil)
        }
        switch decision.action {
        case .send(let text):
            return .send(explanation: text)
        case .suppress(let reason):
            logSink.log(LogRecord(.info, "report.suppressed", [
                ("queue_id", queueID), ("kind", kind.rawValue), ("to", plan.to.description), ("reason", reason),
            ]))
            return .suppress
        }
    }

    /// The public name of a report kind.
    static func kind(_ kind: DSNReportKind) -> OutgoingReport.Kind {
        switch kind {
        case .failure: .failure
        case .delay: .delay
        case .success: .success
        case .doubleBounce: .doubleBounce
        }
    }
}
