// LocalReportSender: NOTIFY=SUCCESS without the outbound queue (deliver_outbound = no). After a durable
// local delivery the `delivered` report is made at once and stored straight into the sender's Maildir when
// the sender is a local user; for any other sender it cannot be sent, and that is logged
// (`report.unsendable`). Runs on the storage pool, in the message's commit.

import PostOfficeCore
import PostOfficeDSN
import PostOfficeDelivery
import PostOfficeQueue

/// Sends `delivered` reports ([RFC 3461 §6.2.2](https://www.rfc-editor.org/rfc/rfc3461#section-6.2.2))
/// into local Maildirs, for a server without the outbound queue.
struct LocalReportSender: Sendable {
    var agent: LocalDeliveryAgent
    var composer: DSNComposer
    var policy: DSNPolicy
    var review: ReportReview
    var reportQueued: (@Sendable (QueuedReport) -> Void)?
    var clock: any MailClock
    var random: any RandomSource
    var logSink: any LogSink

    /// Reports the recipients of `envelope` flagged ``QueueRecipient/isDeliveredLocally`` as delivered to
    /// its sender. `header` is the start of the message (its header section is returned in the report);
    /// `queueID` is the message's ID in the log and its Received: field.
    func sendDelivered(_ envelope: QueueEnvelope, header: [UInt8], queueID: String) {
        guard let sender = envelope.reversePath else { return }
        let now = clock.now()
        let dsnEnvelope = DSNEnvelope(
            reversePath: sender, arrival: envelope.arrival,
            recipients: envelope.recipients.map { DSNRecipient($0.address, originalRecipient: $0.originalRecipient, notify: $0.notify) },
            messageSize: envelope.messageSize, envelopeID: envelope.envelopeID, returnContent: envelope.returnContent)
        let outcomes: [DSNOutcome] = envelope.recipients.map {
            $0.isDeliveredLocally
                ? .delivered(DSNAttempt(status: EnhancedStatusCode(2, 0, 0), reply: "delivered to the recipient's mailbox", date: now))
                : .pending
        }
        for plan in policy.reports(for: dsnEnvelope, outcomes: outcomes, now: now) where plan.kind == .success {
            send(plan, envelope: dsnEnvelope, outcomes: outcomes, header: header, queueID: queueID, now: now)
        }
    }

    private func send(
        _ plan: DSNPlan, envelope: DSNEnvelope, outcomes: [DSNOutcome], header: [UInt8], queueID: String, now: MailTime
    ) {
        let domain = plan.to.normalizedDomain
        guard agent.directory.isLocal(domain: domain) || domain == agent.configuration.hostname.lowercased() else {
            unsendable(plan, queueID: queueID, reason: "the sender is not local and outbound delivery is off (deliver_outbound = no)")
            return
        }
        let verdict = review.review(plan, envelope: envelope, outcomes: outcomes, composer: composer, queueID: queueID) {
            DSNOriginalHeaders.field(named: "Message-ID", in: header)
        }
        guard case .send(let explanation) = verdict else { return }
        let resolution = agent.resolve(plan.to)
        guard case .local(let mailboxes) = resolution else {
            unsendable(plan, queueID: queueID, reason: "\(resolution.reason): \(plan.to)")
            return
        }
        let report = composer.compose(plan, envelope: envelope, outcomes: outcomes, date: now, random: random, explanation: explanation)
        let reportID = agent.makeQueueID()
        let trace = TraceInfo(
            sessionID: "report-" + reportID.lowercased(), queueID: reportID, protocolName: "local",
            hostname: agent.configuration.hostname)
        let result: DeliveryOutcome
        do throws(DeliveryError) {
            let transaction = try agent.beginTransaction(
                reversePath: nil, recipients: [ResolvedRecipient(address: plan.to, mailboxes: mailboxes)], trace: trace)
            do throws(DeliveryError) {
                try transaction.append(report.assemble(original: header))
            } catch {
                transaction.abort()
                throw error
            }
            result = transaction.commit().overall
        } catch {
            result = error.outcome
        }
        guard case .delivered = result else {
            logSink.log(LogRecord(.error, "report.failed", [
                ("queue_id", queueID), ("kind", plan.kind.rawValue), ("to", plan.to.description), ("error", "\(result)"),
            ]))
            return
        }
        logSink.log(LogRecord(.info, "report.stored", [
            ("queue_id", queueID), ("report_id", reportID), ("kind", plan.kind.rawValue), ("to", plan.to.description),
        ]))
        reportQueued?(QueuedReport(
            kind: ReportReview.kind(plan.kind).rawValue, to: plan.to, aboutQueueID: queueID, reportQueueID: "",
            recipients: plan.recipients.filter { $0 < envelope.recipients.count }.map { envelope.recipients[$0].address }))
    }

    private func unsendable(_ plan: DSNPlan, queueID: String, reason: String) {
        logSink.log(LogRecord(.warning, "report.unsendable", [
            ("queue_id", queueID), ("kind", plan.kind.rawValue), ("to", plan.to.description), ("reason", reason),
        ]))
    }
}
