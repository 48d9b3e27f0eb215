// LoginThrottle: counts failed POP3 logins per client over a sliding one-minute window and refuses an
// attempt before its password check once the allowance is used up. Reserving the attempt and checking the
// allowance are one locked step, so parallel logins cannot overrun it; memory is capped against floods.

import PostOfficeCore

/// Failed-login accounting per client (``Limits/failedLoginsPerMinutePerAddress``).
///
/// A login calls ``reserveAttempt(for:)`` **before** checking the password: in one locked step it checks
/// the allowance and counts the attempt, so of any number of parallel attempts from one client at most
/// `limit` reach the password check per window. The attempt is then settled with ``fail(_:)`` (it stays
/// counted as a failure) or ``succeed(_:)`` (it stops counting). Only the newest `limit` failure times are
/// kept per client, which is all the decision needs. Successful logins do not clear earlier failures (a
/// guesser who owns one account could otherwise reset the count at will).
///
/// Clients are grouped by ``key(forClient:)``: an IPv4 address is its own key, an IPv6 address counts for
/// its whole /64 (one host usually controls one), an IPv4-mapped IPv6 address as the IPv4 address.
public final class LoginThrottle: @unchecked Sendable {
    /// Failures allowed per window.
    public let limit: Int
    /// The window, in seconds.
    public let windowSeconds: Int
    /// Most clients tracked at once; past it the stalest are forgotten first.
    public let maximumTrackedAddresses: Int

    /// One login attempt counted against its client until settled with ``LoginThrottle/succeed(_:)`` or
    /// ``LoginThrottle/fail(_:)``. One left unsettled counts as a failure when it is released, so a lost
    /// reservation cannot block its client for good.
    public final class Reservation: @unchecked Sendable {
        /// The client's key (``LoginThrottle/key(forClient:)``).
        public let key: String
        fileprivate weak var throttle: LoginThrottle?
        /// Guarded by the throttle's lock.
        fileprivate var isSettled = false

        fileprivate init(key: String, throttle: LoginThrottle) {
            self.key = key
            self.throttle = throttle
        }

        deinit { throttle?.settle(self, failed: true) }
    }

    private struct Entry {
        /// Failure times (microseconds since the epoch), oldest first, at most `limit` of them.
        var failures: [Int64] = []
        /// Attempts reserved and not yet settled.
        var pending = 0
        /// The last reservation or failure, for choosing whom to forget when full.
        var lastSeen: Int64 = 0
    }

    private let clock: any MailClock
    private let lock = Lock()
    private var entries: [String: Entry] = [:]

    /// - Parameters:
    ///   - limit: failures allowed per window; must be at least 1.
    ///   - windowSeconds: the sliding window (60 for "per minute").
    ///   - maximumTrackedAddresses: memory bound; must be at least 1.
    ///   - clock: the time source (a ``ManualClock`` in tests).
    public init(limit: Int, windowSeconds: Int = 60, maximumTrackedAddresses: Int = 10_000, clock: any MailClock) {
        precondition(
            limit >= 1 && windowSeconds >= 1 && maximumTrackedAddresses >= 1, "LoginThrottle bounds must be positive")
        self.limit = limit
        self.windowSeconds = windowSeconds
        self.maximumTrackedAddresses = maximumTrackedAddresses
        self.clock = clock
    }

    /// A throttle allowing ``Limits/failedLoginsPerMinutePerAddress`` failures per minute.
    public convenience init(limits: Limits, maximumTrackedAddresses: Int = 10_000, clock: any MailClock) {
        self.init(
            limit: max(1, limits.failedLoginsPerMinutePerAddress), windowSeconds: 60,
            maximumTrackedAddresses: maximumTrackedAddresses, clock: clock)
    }

    /// Counts a login attempt from `client` (an address; grouped by ``key(forClient:)``) before its password
    /// is checked. Returns nil when the client has used up its allowance — recent failures plus attempts in
    /// flight reach `limit` — and the login must then be refused without checking the password.
    public func reserveAttempt(for client: String) -> Reservation? {
        let key = Self.key(forClient: client)
        let now = Self.microseconds(clock.now())
        let admitted: Bool = lock.withLock {
            var entry = entries[key] ?? Entry()
            entry.failures.removeAll { $0 <= now - windowMicroseconds }
            guard entry.failures.count + entry.pending < limit else {
                entries[key] = entry
                return false
            }
            if entries[key] == nil && entries.count >= maximumTrackedAddresses { makeRoom(now: now) }
            entry.pending += 1
            entry.lastSeen = now
            entries[key] = entry
            return true
        }
        return admitted ? Reservation(key: key, throttle: self) : nil
    }

    /// Settles a reservation whose password was right: the attempt stops counting. A second settlement of
    /// the same reservation does nothing.
    public func succeed(_ reservation: Reservation) {
        settle(reservation, failed: false)
    }

    /// Settles a reservation whose login failed: the attempt stays counted as a failure for the window.
    /// A second settlement of the same reservation does nothing.
    public func fail(_ reservation: Reservation) {
        settle(reservation, failed: true)
    }

    fileprivate func settle(_ reservation: Reservation, failed: Bool) {
        let now = Self.microseconds(clock.now())
        lock.withLock {
            guard !reservation.isSettled else { return }
            reservation.isSettled = true
            if var entry = entries[reservation.key] {
                entry.pending = max(0, entry.pending - 1)
                if failed { append(failureAt: now, to: &entry) }
                entries[reservation.key] = entry
            } else if failed {
                // Forgotten while the table was full: the failure starts the entry afresh.
                if entries.count >= maximumTrackedAddresses { makeRoom(now: now) }
                var entry = Entry()
                append(failureAt: now, to: &entry)
                entries[reservation.key] = entry
            }
        }
    }

    /// True when `client` has used up its allowance for now (failures plus attempts in flight).
    /// Deprecated in spirit: checking and then recording is racy; use ``reserveAttempt(for:)``.
    public func isBlocked(_ client: String) -> Bool {
        let key = Self.key(forClient: client)
        let now = Self.microseconds(clock.now())
        return lock.withLock {
            guard let entry = entries[key] else { return false }
            return entry.failures.filter { $0 > now - windowMicroseconds }.count + entry.pending >= limit
        }
    }

    /// Records a failed login from `client` without a reservation (the older two-step API).
    public func recordFailure(_ client: String) {
        let key = Self.key(forClient: client)
        let now = Self.microseconds(clock.now())
        lock.withLock {
            if entries[key] == nil && entries.count >= maximumTrackedAddresses { makeRoom(now: now) }
            var entry = entries[key] ?? Entry()
            append(failureAt: now, to: &entry)
            entries[key] = entry
        }
    }

    /// Called with the lock held.
    private func append(failureAt now: Int64, to entry: inout Entry) {
        entry.failures.removeAll { $0 <= now - windowMicroseconds }
        entry.failures.append(now)
        if entry.failures.count > limit { entry.failures.removeFirst(entry.failures.count - limit) }
        entry.lastSeen = now
    }

    /// How many failures `client` has within the window now (attempts in flight not included).
    public func recentFailures(_ client: String) -> Int {
        let key = Self.key(forClient: client)
        let now = Self.microseconds(clock.now())
        return lock.withLock { entries[key]?.failures.filter { $0 > now - windowMicroseconds }.count ?? 0 }
    }

    /// The number of clients currently remembered (bounded by ``maximumTrackedAddresses``).
    public var trackedAddressCount: Int { lock.withLock { entries.count } }

    /// Forgets clients whose failures have all left the window and that have no attempt in flight.
    public func purgeExpired() {
        let now = Self.microseconds(clock.now())
        lock.withLock { purge(now: now) }
    }

    private var windowMicroseconds: Int64 { Int64(windowSeconds) * 1_000_000 }

    private func purge(now: Int64) {
        entries = entries.filter { $0.value.pending > 0 || ($0.value.failures.last ?? 0) > now - windowMicroseconds }
    }

    /// Called with the lock held when the table is full: drop expired entries, and if that frees nothing,
    /// the client seen least recently, preferring one with no attempt in flight.
    private func makeRoom(now: Int64) {
        purge(now: now)
        while entries.count >= maximumTrackedAddresses {
            let idle = entries.filter { $0.value.pending == 0 }
            let candidates = idle.isEmpty ? entries : idle
            guard let stalest = candidates.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key else { return }
            entries[stalest] = nil
        }
    }

    private static func microseconds(_ time: MailTime) -> Int64 {
        Int64(time.seconds) * 1_000_000 + Int64(time.microseconds)
    }
}
