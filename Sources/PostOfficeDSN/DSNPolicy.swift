// DSNPolicy: which reports to send, as a pure function of the envelope, the per-recipient outcomes and
// the time. No bounce loops: nothing ever goes to `<>`; an undeliverable report goes to the postmaster
// once, and an undeliverable postmaster notice is dropped.

import PostOfficeCore

/// Decides which delivery status notifications a message needs
/// ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1),
/// [RFC 5321 §6.1](https://www.rfc-editor.org/rfc/rfc5321#section-6.1)).
///
/// - Failures are reported when NOTIFY includes FAILURE or is absent; delays when it includes DELAY or is
///   absent, once, after ``delayWarningTime``; successes (delivered, relayed to a hop without DSN,
///   expanded) only with NOTIFY=SUCCESS. NOTIFY=NEVER silences all three.
/// - Recipients of one kind share one report: at most one failure, one delay and one success report.
/// - A message with the null reverse-path (a report itself) is never reported to its sender. Its permanent
///   failures go to the postmaster as one double bounce, whatever NOTIFY says (it is an operational notice,
///   not the sender's report); a double bounce that fails (``DSNEnvelope/isDoubleBounce``, or a failed
///   recipient that is the postmaster) is dropped.
public struct DSNPolicy: Hashable, Sendable {
    /// Where double bounces go (`postmaster_address`).
    public var postmaster: MailAddress
    /// Seconds after arrival before a delay report is sent (like Postfix's `delay_warning_time`);
    /// nil sends none.
    public var delayWarningTime: Int?

    public init(postmaster: MailAddress, delayWarningTime: Int? = 4 * 3600) {
        self.postmaster = postmaster
        self.delayWarningTime = delayWarningTime
    }

    /// The reports to send now, in the order failure, delay, success (or one double bounce). `outcomes[i]`
    /// belongs to `envelope.recipients[i]`; missing outcomes count as pending.
    public func reports(for envelope: DSNEnvelope, outcomes: [DSNOutcome], now: MailTime) -> [DSNPlan] {
        if envelope.isDoubleBounce { return [] }
        let indices = envelope.recipients.indices.filter { $0 < outcomes.count }

        guard let sender = envelope.reversePath else {
            // A report about a report: the postmaster hears of it, unless it was for the postmaster
            // (a notice to the postmaster about the postmaster would fail the same way).
            let failed = indices.filter {
                if case .failed = outcomes[$0] {
                    return !MailAddress.isCanonicallyEqual(
                        envelope.recipients[$0].address.canonical, postmaster.canonical)
                }
                return false
            }
            return failed.isEmpty ? [] : [DSNPlan(kind: .doubleBounce, to: postmaster, recipients: failed)]
        }

        var failed: [Int] = []
        var delayed: [Int] = []
        var succeeded: [Int] = []
        for i in indices {
            let notify = envelope.recipients[i].notifications
            switch outcomes[i] {
            case .pending:
                break
            case .failed:
                if notify.contains(.failure) { failed.append(i) }
            case .delayed(_, _, let warned):
                if notify.contains(.delay), !warned, isDelayDue(arrival: envelope.arrival, now: now) {
                    delayed.append(i)
                }
            case .delivered, .expanded:
                if notify.contains(.success) { succeeded.append(i) }
            case .relayed(_, let remoteSupportsDSN):
                // A DSN-capable next hop got NOTIFY passed on and will report itself.
                if notify.contains(.success), !remoteSupportsDSN { succeeded.append(i) }
            }
        }
        var plans: [DSNPlan] = []
        if !failed.isEmpty { plans.append(DSNPlan(kind: .failure, to: sender, recipients: failed)) }
        if !delayed.isEmpty { plans.append(DSNPlan(kind: .delay, to: sender, recipients: delayed)) }
        if !succeeded.isEmpty { plans.append(DSNPlan(kind: .success, to: sender, recipients: succeeded)) }
        return plans
    }

    private func isDelayDue(arrival: MailTime, now: MailTime) -> Bool {
        guard let delayWarningTime else { return false }
        return now.seconds - arrival.seconds >= delayWarningTime
    }
}
