// InflowGate: Postfix's `in_flow_delay` for the outbound queue. When more mail waits for a delivery slot than
// half the attempts in flight, a session about to add a message to the queue waits here (a small record, and a
// timer on its own event loop; no thread blocks) until the queue manager starts an attempt from that backlog (one
// waiting session per attempt started, oldest first), the backlog falls to the threshold, or in_flow_delay
// passes. The clock is injected; it only measures how long each session waited.

import PostOfficeCore

/// Holds sessions back while the outbound queue's backlog is above its threshold. Thread-safe.
final class InflowGate: @unchecked Sendable {
    /// The queue manager's backlog, as it reports it after each change.
    struct Backlog: Equatable, Sendable {
        /// Attempts due and waiting for a delivery slot (mail for a paused destination is not counted: it is
        /// not ready to go, and holding clients back would not make it go sooner).
        var waiting: Int
        /// Delivery slots in use.
        var inFlight: Int

        /// The threshold: more mail waits than half the attempts in flight. At or under it, mail accepted now
        /// starts about half an attempt's time after it is queued (its wait to the next hop is about one and a
        /// half attempts), and the slots still find mail ready when they free: the sessions let go as attempts
        /// start send theirs meanwhile. Over it, mail accepted now would wait behind a growing backlog, and
        /// latency becomes the backlog's age. (Measured with `postoffice-bench relay` at 50 sessions on a loaded
        /// machine: `waiting > inFlight` kept the 250→sink p50 at 4–58 ms, this at 3–43 ms, at the same rate.)
        var isCongested: Bool { waiting > inFlight / 2 }
    }

    /// A waiting session's place in line.
    struct Ticket: Hashable, Sendable {
        fileprivate let number: UInt64
    }

    /// What `admit` decided.
    enum Admission: Equatable, Sendable {
        /// Go on now.
        case proceed
        /// Wait: the wake-up comes through the closure given to `admit`, once.
        case wait(Ticket)
    }

    /// Why a waiting session was let go.
    enum Outcome: String, Sendable {
        /// The backlog fell to the threshold, or an attempt started from it.
        case released
        /// `in_flow_delay` passed first.
        case expired
    }

    /// What a woken session is told (for its log line).
    struct Release: Sendable {
        var outcome: Outcome
        var waitedMicroseconds: Int
        /// The backlog when the session began to wait.
        var backlog: Backlog
    }

    private struct Waiter {
        let ticket: Ticket
        let since: MailTime
        let backlog: Backlog
        let wake: @Sendable (Release) -> Void
    }

    private let clock: any MailClock
    private let lock = Lock()
    private var backlog = Backlog(waiting: 0, inFlight: 0)
    /// Oldest first.
    private var waiters: [Waiter] = []
    private var nextTicket: UInt64 = 0

    init(clock: any MailClock) {
        self.clock = clock
    }

    /// Sessions waiting now (for tests and metrics).
    var waitingCount: Int { lock.withLock { waiters.count } }

    /// The backlog last reported.
    var currentBacklog: Backlog { lock.withLock { backlog } }

    /// Decides whether a session may add a message now. It may when the backlog is at or under the threshold
    /// and nobody waits before it; otherwise it waits, and `wake` is called exactly once (on the thread that
    /// releases it: the queue manager's, or the caller's timer through ``expire(_:)``) unless it is cancelled.
    func admit(wake: @escaping @Sendable (Release) -> Void) -> Admission {
        let now = clock.now()
        return lock.withLock {
            if !backlog.isCongested && waiters.isEmpty { return .proceed }
            nextTicket &+= 1
            let ticket = Ticket(number: nextTicket)
            waiters.append(Waiter(ticket: ticket, since: now, backlog: backlog, wake: wake))
            return .wait(ticket)
        }
    }

    /// The queue manager's report after a change: `started` attempts began (each lets the oldest waiting session
    /// go, as Postfix's queue manager hands cleanup one token per message it takes in); at or under the threshold
    /// every waiting session goes.
    func update(_ new: Backlog, started: Int) {
        let now = clock.now()
        let released: [(Waiter, Release)] = lock.withLock {
            backlog = new
            guard !waiters.isEmpty else { return [] }
            let count = new.isCongested ? min(started, waiters.count) : waiters.count
            guard count > 0 else { return [] }
            let going = waiters.prefix(count)
            waiters.removeFirst(count)
            return going.map { ($0, Self.release($0, .released, now: now)) }
        }
        for (waiter, release) in released { waiter.wake(release) }
    }

    /// `in_flow_delay` passed for `ticket`: it goes now, unless it went already.
    func expire(_ ticket: Ticket) {
        let now = clock.now()
        let found: (Waiter, Release)? = lock.withLock {
            guard let index = waiters.firstIndex(where: { $0.ticket == ticket }) else { return nil }
            let waiter = waiters.remove(at: index)
            return (waiter, Self.release(waiter, .expired, now: now))
        }
        if let (waiter, release) = found { waiter.wake(release) }
    }

    /// Forgets `ticket` without waking it (its connection closed).
    func cancel(_ ticket: Ticket) {
        lock.withLock { waiters.removeAll { $0.ticket == ticket } }
    }

    private static func release(_ waiter: Waiter, _ outcome: Outcome, now: MailTime) -> Release {
        let waited = (now.seconds - waiter.since.seconds) * 1_000_000 + (now.microseconds - waiter.since.microseconds)
        return Release(outcome: outcome, waitedMicroseconds: max(0, waited), backlog: waiter.backlog)
    }
}
