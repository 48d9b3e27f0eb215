// DSNPolicyTests: the decision table — which report each outcome and NOTIFY combination yields, no reports
// to <>, one double bounce and then silence, and recipients of one kind sharing one report.

import PostOfficeCore
import PostOfficeDSN
import Testing

struct PolicyCase: CustomTestStringConvertible, Sendable {
    var name: String
    var sender: MailAddress? = Fixture.alice
    var recipient = Fixture.bob
    var notify: String?
    var outcome: DSNOutcome
    var isDoubleBounce = false
    var now = MailTime(seconds: Fixture.arrival.seconds + 5 * 3600)
    var expected: [DSNReportKind]
    var testDescription: String { name }
}

struct DSNPolicyTests {
    let policy = DSNPolicy(postmaster: Fixture.postmaster, delayWarningTime: 4 * 3600)

    static let cases: [PolicyCase] = [
        PolicyCase(name: "failure, NOTIFY absent", outcome: Fixture.failed(), expected: [.failure]),
        PolicyCase(name: "failure, NOTIFY=FAILURE", notify: "FAILURE", outcome: Fixture.failed(), expected: [.failure]),
        PolicyCase(name: "failure, NOTIFY=NEVER", notify: "NEVER", outcome: Fixture.failed(), expected: []),
        PolicyCase(name: "failure, NOTIFY=SUCCESS only", notify: "SUCCESS", outcome: Fixture.failed(), expected: []),
        PolicyCase(name: "delay past warning time, NOTIFY absent", outcome: Fixture.delayed(), expected: [.delay]),
        PolicyCase(name: "delay, NOTIFY=DELAY", notify: "DELAY", outcome: Fixture.delayed(), expected: [.delay]),
        PolicyCase(name: "delay already warned", outcome: Fixture.delayed(warned: true), expected: []),
        PolicyCase(
            name: "delay before warning time", outcome: Fixture.delayed(),
            now: MailTime(seconds: Fixture.arrival.seconds + 3600), expected: []),
        PolicyCase(name: "delay, NOTIFY=FAILURE", notify: "FAILURE", outcome: Fixture.delayed(), expected: []),
        PolicyCase(name: "delay, NOTIFY=NEVER", notify: "NEVER", outcome: Fixture.delayed(), expected: []),
        PolicyCase(name: "delivered, NOTIFY=SUCCESS", notify: "SUCCESS", outcome: Fixture.delivered, expected: [.success]),
        PolicyCase(name: "delivered, NOTIFY absent", outcome: Fixture.delivered, expected: []),
        PolicyCase(
            name: "relayed to hop without DSN, NOTIFY=SUCCESS", notify: "SUCCESS,FAILURE",
            outcome: .relayed(DSNAttempt(status: EnhancedStatusCode(2, 0, 0), remoteMTA: "mx"), remoteSupportsDSN: false),
            expected: [.success]),
        PolicyCase(
            name: "relayed to hop with DSN, NOTIFY=SUCCESS", notify: "SUCCESS",
            outcome: .relayed(DSNAttempt(status: EnhancedStatusCode(2, 0, 0), remoteMTA: "mx"), remoteSupportsDSN: true),
            expected: []),
        PolicyCase(
            name: "expanded, NOTIFY=SUCCESS", notify: "SUCCESS",
            outcome: .expanded(DSNAttempt(status: EnhancedStatusCode(2, 0, 0))), expected: [.success]),
        PolicyCase(name: "pending", outcome: .pending, expected: []),
        PolicyCase(name: "<> failed: double bounce", sender: nil, outcome: Fixture.failed(), expected: [.doubleBounce]),
        PolicyCase(
            name: "<> failed, NOTIFY=NEVER: double bounce anyway", sender: nil, notify: "NEVER", outcome: Fixture.failed(),
            expected: [.doubleBounce]),
        PolicyCase(name: "<> delayed: nothing", sender: nil, outcome: Fixture.delayed(), expected: []),
        PolicyCase(name: "<> delivered with SUCCESS: nothing", sender: nil, notify: "SUCCESS", outcome: Fixture.delivered, expected: []),
        PolicyCase(
            name: "<> to the postmaster failed: dropped", sender: nil, recipient: Fixture.postmaster,
            outcome: Fixture.failed(), expected: []),
        PolicyCase(
            name: "double bounce failed: dropped", sender: nil, outcome: Fixture.failed(), isDoubleBounce: true,
            expected: []),
    ]

    @Test(arguments: cases)
    func decides(_ c: PolicyCase) {
        let envelope = DSNEnvelope(
            reversePath: c.sender, arrival: Fixture.arrival, recipients: [DSNRecipient(c.recipient, notify: c.notify)],
            isDoubleBounce: c.isDoubleBounce)
        let plans = policy.reports(for: envelope, outcomes: [c.outcome], now: c.now)
        #expect(plans.map(\.kind) == c.expected)
        for plan in plans {
            #expect(plan.to == (plan.kind == .doubleBounce ? Fixture.postmaster : Fixture.alice))
            #expect(plan.recipients == [0])
        }
    }

    @Test func recipientsThatFailTogetherShareOneReport() {
        let envelope = DSNEnvelope(
            reversePath: Fixture.alice, arrival: Fixture.arrival,
            recipients: [
                DSNRecipient(Fixture.bob), DSNRecipient(Fixture.carol, notify: "SUCCESS"), DSNRecipient(Fixture.carol),
                DSNRecipient(Fixture.bob, notify: "SUCCESS,DELAY"), DSNRecipient(Fixture.bob),
            ])
        let outcomes = [Fixture.failed(), Fixture.delivered, Fixture.failed("5.2.2"), Fixture.delayed(), .pending]
        let plans = policy.reports(for: envelope, outcomes: outcomes, now: MailTime(seconds: Fixture.arrival.seconds + 5 * 3600))
        #expect(
            plans == [
                DSNPlan(kind: .failure, to: Fixture.alice, recipients: [0, 2]),
                DSNPlan(kind: .delay, to: Fixture.alice, recipients: [3]),
                DSNPlan(kind: .success, to: Fixture.alice, recipients: [1]),
            ])
    }

    @Test func noDelayWarningTimeMeansNoDelayReports() {
        let quiet = DSNPolicy(postmaster: Fixture.postmaster, delayWarningTime: nil)
        let envelope = DSNEnvelope(reversePath: Fixture.alice, arrival: Fixture.arrival, recipients: [DSNRecipient(Fixture.bob)])
        #expect(quiet.reports(for: envelope, outcomes: [Fixture.delayed()], now: MailTime(seconds: 2_000_000_000)).isEmpty)
    }

    @Test func missingOutcomesCountAsPending() {
        let envelope = DSNEnvelope(
            reversePath: Fixture.alice, arrival: Fixture.arrival, recipients: [DSNRecipient(Fixture.bob), DSNRecipient(Fixture.carol)])
        #expect(policy.reports(for: envelope, outcomes: [Fixture.failed()], now: Fixture.later).map(\.recipients) == [[0]])
    }
}
