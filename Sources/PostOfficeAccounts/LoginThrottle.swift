// LoginThrottle: counts failed POP3 logins per client address over a sliding one-minute window and says
// when an address has used up its allowance. Shared by all sessions (locked); memory is capped so a
// flood from many addresses cannot grow it without bound.

import PostOfficeCore

/// Failed-login accounting per client address (``Limits/failedLoginsPerMinutePerAddress``).
///
/// An address is blocked while it has at least `limit` failures within the last `window` seconds. Only
/// the newest `limit` failure times are kept per address, which is all the decision needs. Successful
/// logins do not clear the count (a guesser who owns one account could otherwise reset it at will).
///
/// Keys are whatever the caller passes; for IPv6 clients consider passing the /64 prefix, since one
/// host usually controls a whole /64.
public final class LoginThrottle: @unchecked Sendable {
    /// Failures allowed per window.
    public let limit: Int
    /// The window, in seconds.
    public let windowSeconds: Int
    /// Most addresses tracked at once; past it the stalest are forgotten first.
    public let maximumTrackedAddresses: Int

    private let clock: any MailClock
    private let lock = Lock()
    /// Address → failure times (microseconds since the epoch), oldest first, at most `limit` of them.
    private var failures: [String: [Int64]] = [:]

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

    /// True when `address` has used up its failures for now; the session should refuse further attempts
    /// without checking the password.
    public func isBlocked(_ address: String) -> Bool {
        let now = Self.microseconds(clock.now())
        return lock.withLock {
            guard let times = failures[address] else { return false }
            let recent = times.filter { $0 > now - windowMicroseconds }
            return recent.count >= limit
        }
    }

    /// Records a failed login from `address`.
    public func recordFailure(_ address: String) {
        let now = Self.microseconds(clock.now())
        lock.withLock {
            var times = failures[address] ?? []
            if times.isEmpty && failures.count >= maximumTrackedAddresses { makeRoom(now: now) }
            times.removeAll { $0 <= now - windowMicroseconds }
            times.append(now)
            if times.count > limit { times.removeFirst(times.count - limit) }
            failures[address] = times
        }
    }

    /// How many failures `address` has within the window now.
    public func recentFailures(_ address: String) -> Int {
        let now = Self.microseconds(clock.now())
        return lock.withLock { failures[address]?.filter { $0 > now - windowMicroseconds }.count ?? 0 }
    }

    /// The number of addresses currently remembered (bounded by ``maximumTrackedAddresses``).
    public var trackedAddressCount: Int { lock.withLock { failures.count } }

    /// Forgets addresses whose failures have all left the window.
    public func purgeExpired() {
        let now = Self.microseconds(clock.now())
        lock.withLock { purge(now: now) }
    }

    private var windowMicroseconds: Int64 { Int64(windowSeconds) * 1_000_000 }

    private func purge(now: Int64) {
        failures = failures.filter { ($0.value.last ?? 0) > now - windowMicroseconds }
    }

    /// Called with the lock held when the table is full: drop expired entries, and if that frees nothing,
    /// the address whose latest failure is oldest.
    private func makeRoom(now: Int64) {
        purge(now: now)
        guard failures.count >= maximumTrackedAddresses else { return }
        if let stalest = failures.min(by: { ($0.value.last ?? 0) < ($1.value.last ?? 0) })?.key {
            failures[stalest] = nil
        }
    }

    private static func microseconds(_ time: MailTime) -> Int64 {
        Int64(time.seconds) * 1_000_000 + Int64(time.microseconds)
    }
}
