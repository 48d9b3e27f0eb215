// PickupThrottleTests: the control socket's `pickup` requests, coalesced and spaced out on a given clock —
// at most one pending, starts at least the interval apart, a request during a pickup schedules the next.

import PostOfficeCore
import Testing
@testable import PostOffice

@Suite struct PickupThrottleTests {
    /// One step: a request at `time` (milliseconds) and its expected decision, or the pickup starting then.
    enum Step: Sendable {
        case request(at: Int, PickupThrottle.Decision)
        case start(at: Int)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let steps: [Step]
        var testDescription: String { name }
    }

    static let cases = [
        Case(name: "the first request runs at once", steps: [.request(at: 0, .runAfter(milliseconds: 0))]),
        Case(name: "requests before the start are coalesced", steps: [
            .request(at: 0, .runAfter(milliseconds: 0)), .request(at: 1, .alreadyPending), .request(at: 2, .alreadyPending),
        ]),
        Case(name: "a request during a pickup waits out the interval", steps: [
            .request(at: 0, .runAfter(milliseconds: 0)), .start(at: 10), .request(at: 300, .runAfter(milliseconds: 710)),
            .request(at: 400, .alreadyPending),
        ]),
        Case(name: "a request after the interval runs at once", steps: [
            .request(at: 0, .runAfter(milliseconds: 0)), .start(at: 0), .request(at: 5000, .runAfter(milliseconds: 0)),
        ]),
        Case(name: "a clock that went back waits the interval, not longer", steps: [
            .request(at: 10_000, .runAfter(milliseconds: 0)), .start(at: 10_000), .request(at: 2_000, .runAfter(milliseconds: 1000)),
        ]),
        Case(name: "a poke loop gets one pickup a second", steps: [
            .request(at: 0, .runAfter(milliseconds: 0)), .start(at: 0),
            .request(at: 1, .runAfter(milliseconds: 999)), .request(at: 2, .alreadyPending), .request(at: 500, .alreadyPending),
            .start(at: 1000), .request(at: 1001, .runAfter(milliseconds: 999)),
        ]),
    ]

    @Test(arguments: cases)
    func requestsAreCoalescedAndSpacedOut(_ example: Case) {
        var throttle = PickupThrottle(minimumIntervalMilliseconds: 1000)
        func time(_ milliseconds: Int) -> MailTime {
            MailTime(seconds: milliseconds / 1000, microseconds: (milliseconds % 1000) * 1000)
        }
        for step in example.steps {
            switch step {
            case .request(let at, let expected):
                #expect(throttle.request(at: time(at)) == expected, "at \(at) ms")
                #expect(throttle.isPending)
            case .start(let at):
                throttle.started(at: time(at))
                #expect(!throttle.isPending)
            }
        }
    }
}
