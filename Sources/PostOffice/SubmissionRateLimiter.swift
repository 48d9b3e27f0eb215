// SubmissionRateLimiter: per-user brakes on submission, so a stolen password sends a bounded amount of spam
// before someone notices — messages and recipients per user per hour, over a sliding window on the injected
// clock. Memory is bounded: counts are kept per minute and a user's entry ages out after an hour.

import PostOfficeCore

/// Counts what each authenticated user submits in the last hour.
final class SubmissionRateLimiter: @unchecked Sendable {
    /// What is counted.
    enum Kind { case message, recipient }

    private struct Window {
        /// (minute, count) buckets within the last hour, oldest first.
        var buckets: [(minute: Int, count: Int)] = []

        mutating func total(now minute: Int) -> Int {
            buckets.removeAll { $0.minute <= minute - 60 }
            return buckets.reduce(0) { $0 + $1.count }
        }

        mutating func add(now minute: Int) {
            if let last = buckets.last, last.minute == minute {
                buckets[buckets.count - 1].count += 1
            } else {
                buckets.append((minute, 1))
            }
        }
    }

    private let clock: any MailClock
    private let lock = Lock()
    private var messages: [String: Window] = [:]
    private var recipients: [String: Window] = [:]
    /// Users tracked at most (oldest dropped beyond it): a bound on memory, far above a small domain's users.
    private let maximumUsers = 100_000

    init(clock: any MailClock) {
        self.clock = clock
    }

    /// Counts one more `kind` for `user` unless that would exceed `limit` per hour (0: no limit). Returns
    /// false, counting nothing, when the limit is reached.
    func admit(_ kind: Kind, user: String, limit: Int) -> Bool {
        guard limit > 0 else { return true }
        let minute = clock.now().seconds / 60
        return lock.withLock {
            var window = (kind == .message ? messages[user] : recipients[user]) ?? Window()
            guard window.total(now: minute) < limit else { return false }
            window.add(now: minute)
            if kind == .message {
                if messages.count >= maximumUsers && messages[user] == nil { messages.removeAll() }
                messages[user] = window
            } else {
                if recipients.count >= maximumUsers && recipients[user] == nil { recipients.removeAll() }
                recipients[user] = window
            }
            return true
        }
    }
}
