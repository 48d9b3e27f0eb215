// InflowGateTests: `in_flow_delay`'s decision on an injected clock, no timers — a session goes on while the
// queue's backlog is at or under its threshold (mail waiting for a slot: half the attempts in flight), waits
// over it, and waiting sessions go oldest first, one per attempt started from the backlog, all at once when the
// backlog is back at the threshold, or alone when their delay expires; each is woken exactly once.

import PostOfficeCore
import Testing
@testable import PostOffice

@Suite struct InflowGateTests {
    /// Records the wake-ups in order.
    final class Wakes: @unchecked Sendable {
        private let lock = Lock()
        private var woken: [(name: String, release: InflowGate.Release)] = []
        func record(_ name: String) -> @Sendable (InflowGate.Release) -> Void {
            { [self] release in lock.withLock { woken.append((name, release)) } }
        }
        var names: [String] { lock.withLock { woken.map(\.name) } }
        var releases: [InflowGate.Release] { lock.withLock { woken.map(\.release) } }
    }

    @Test(arguments: [
        (waiting: 0, inFlight: 0, congested: false),
        (waiting: 2, inFlight: 5, congested: false),
        (waiting: 3, inFlight: 5, congested: true),
        (waiting: 10, inFlight: 20, congested: false),
        (waiting: 11, inFlight: 20, congested: true),
        (waiting: 1, inFlight: 0, congested: true),
        (waiting: 1, inFlight: 1, congested: true),
        (waiting: 0, inFlight: 20, congested: false),
    ])
    func theThresholdIsHalfTheAttemptsInFlight(waiting: Int, inFlight: Int, congested: Bool) {
        #expect(InflowGate.Backlog(waiting: waiting, inFlight: inFlight).isCongested == congested)
        let gate = InflowGate(clock: ManualClock())
        gate.update(InflowGate.Backlog(waiting: waiting, inFlight: inFlight), started: 0)
        let admission = gate.admit { _ in }
        #expect((admission == .proceed) == !congested)
    }

    /// `in_flow_delay` takes Postfix's time syntax (seconds by default) and milliseconds, 0 to 10 s, and
    /// renders back to what it read.
    @Test(arguments: [("1s", 1000), ("0", 0), ("2", 2000), ("250ms", 250), ("10s", 10_000)])
    func theDelayParsesAndRendersBack(_ value: String, _ milliseconds: Int) throws {
        let parsed = try ConfigurationFile.parse("in_flow_delay = \(value)", fileName: "po.conf", base: PostOfficeConfiguration(dataDirectory: "/srv/po"))
        #expect(parsed.inFlowDelayMilliseconds == milliseconds)
        let again = try ConfigurationFile.parse(ConfigurationFile.render(parsed).joined(separator: "\n"), fileName: "r", base: parsed)
        #expect(again.inFlowDelayMilliseconds == milliseconds)
        #expect(PostOfficeConfiguration(dataDirectory: "/srv/po").inFlowDelayMilliseconds == 1000)  // Postfix's default
    }

    @Test(arguments: ["11s", "1m", "-1ms", "soon"])
    func aDelayOutsideZeroToTenSecondsIsRefused(_ value: String) {
        #expect(throws: (any Error).self) {
            try ConfigurationFile.parse("in_flow_delay = \(value)", fileName: "po.conf", base: PostOfficeConfiguration(dataDirectory: "/srv/po"))
        }
    }

    @Test func waitingSessionsGoOnePerAttemptStartedOldestFirst() {
        let clock = ManualClock()
        let gate = InflowGate(clock: clock)
        let wakes = Wakes()
        gate.update(InflowGate.Backlog(waiting: 30, inFlight: 20), started: 0)
        for name in ["first", "second", "third"] {
            guard case .wait = gate.admit(wake: wakes.record(name)) else {
                Issue.record("\(name) went on over the threshold")
                return
            }
        }
        #expect(gate.waitingCount == 3)
        clock.advance(microseconds: 2_500)
        // Still over the threshold: each attempt taken from the backlog lets one session go.
        gate.update(InflowGate.Backlog(waiting: 29, inFlight: 20), started: 1)
        #expect(wakes.names == ["first"])
        #expect(wakes.releases.first?.outcome == .released)
        #expect(wakes.releases.first?.waitedMicroseconds == 2_500)
        #expect(wakes.releases.first?.backlog == InflowGate.Backlog(waiting: 30, inFlight: 20))
        // A change that started nothing (a slot freed, mail arrived) lets nobody go.
        gate.update(InflowGate.Backlog(waiting: 31, inFlight: 19), started: 0)
        #expect(wakes.names == ["first"])
        // A newcomer waits behind those already waiting.
        guard case .wait = gate.admit(wake: wakes.record("fourth")) else {
            Issue.record("a newcomer went on before the sessions waiting")
            return
        }
        // Back at the threshold: everyone goes, in order.
        gate.update(InflowGate.Backlog(waiting: 10, inFlight: 20), started: 1)
        #expect(wakes.names == ["first", "second", "third", "fourth"])
        #expect(gate.waitingCount == 0)
        #expect(gate.admit { _ in } == .proceed)
    }

    @Test func anExpiredDelayLetsThatSessionAloneGoOnce() {
        let clock = ManualClock()
        let gate = InflowGate(clock: clock)
        let wakes = Wakes()
        gate.update(InflowGate.Backlog(waiting: 50, inFlight: 20), started: 0)
        guard case .wait(let first) = gate.admit(wake: wakes.record("first")),
            case .wait = gate.admit(wake: wakes.record("second"))
        else {
            Issue.record("went on over the threshold")
            return
        }
        clock.advance(seconds: 1)
        gate.expire(first)
        #expect(wakes.names == ["first"])
        #expect(wakes.releases.first?.outcome == .expired)
        #expect(wakes.releases.first?.waitedMicroseconds == 1_000_000)
        // Woken once: neither its timer again nor the backlog draining wakes it a second time.
        gate.expire(first)
        gate.update(InflowGate.Backlog(waiting: 0, inFlight: 20), started: 5)
        #expect(wakes.names == ["first", "second"])
        #expect(wakes.releases.last?.outcome == .released)
    }

    @Test func aCancelledSessionIsNeverWoken() {
        let gate = InflowGate(clock: ManualClock())
        let wakes = Wakes()
        gate.update(InflowGate.Backlog(waiting: 9, inFlight: 5), started: 0)
        guard case .wait(let gone) = gate.admit(wake: wakes.record("gone")),
            case .wait = gate.admit(wake: wakes.record("stays"))
        else {
            Issue.record("went on over the threshold")
            return
        }
        gate.cancel(gone)
        // The one attempt started goes to the session still there, not to the closed one.
        gate.update(InflowGate.Backlog(waiting: 8, inFlight: 5), started: 1)
        gate.expire(gone)
        #expect(wakes.names == ["stays"])
        #expect(gate.waitingCount == 0)
    }
}
