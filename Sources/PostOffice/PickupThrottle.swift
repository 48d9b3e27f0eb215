// PickupThrottle: decides when the control socket's `pickup` (sent by `postoffice sendmail` after it queued a
// message) makes the queue manager look for new files. Sans-I/O: times in, decisions out. At most one pickup
// is pending, and pickups start at least `minimumIntervalMilliseconds` apart, so a loop of pokes costs one
// directory listing a second at most, and a poke is never lost (one during a pickup schedules the next).

import PostOfficeCore

/// Coalesces and spaces out pickup requests.
struct PickupThrottle: Sendable {
    /// What to do with one request.
    enum Decision: Hashable, Sendable {
        /// Schedule a pickup this many milliseconds from now (0: at once).
        case runAfter(milliseconds: Int)
        /// A pickup is already scheduled and has not started: it will see this request's mail too.
        case alreadyPending
    }

    /// The shortest time between the starts of two pickups.
    let minimumIntervalMilliseconds: Int
    /// True from a request that scheduled a pickup until that pickup starts.
    private(set) var isPending = false
    private var lastStart: MailTime?

    init(minimumIntervalMilliseconds: Int = 1000) {
        self.minimumIntervalMilliseconds = minimumIntervalMilliseconds
    }

    /// A `pickup` request arrived at `now`.
    mutating func request(at now: MailTime) -> Decision {
        guard !isPending else { return .alreadyPending }
        isPending = true
        guard let lastStart else { return .runAfter(milliseconds: 0) }
        let elapsed = (now.seconds - lastStart.seconds) * 1000 + (now.microseconds - lastStart.microseconds) / 1000
        // A clock that went back counts as no time elapsed: wait the whole interval, never longer.
        let wait = minimumIntervalMilliseconds - max(0, elapsed)
        return .runAfter(milliseconds: max(0, wait))
    }

    /// The scheduled pickup starts at `now`: a request from here on schedules the next one (the listing that
    /// starts now may miss a file queued meanwhile).
    mutating func started(at now: MailTime) {
        isPending = false
        lastStart = now
    }
}
