// LoginThrottleTests: the sliding window on a manual clock, per-address independence, the memory cap,
// concurrent use, atomic reservations (issue 19, D3) and the IPv6 /64 client key.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import Testing

@testable import PostOfficeAccounts

@Suite struct LoginThrottleTests {
    @Test func blocksAtTheLimitAndSlides() {
        let clock = ManualClock()
        let throttle = LoginThrottle(limit: 3, clock: clock)
        for _ in 0..<2 { throttle.recordFailure("192.0.2.1") }
        #expect(!throttle.isBlocked("192.0.2.1"))
        clock.advance(seconds: 30)
        throttle.recordFailure("192.0.2.1")
        #expect(throttle.isBlocked("192.0.2.1"))
        #expect(throttle.recentFailures("192.0.2.1") == 3)
        #expect(!throttle.isBlocked("192.0.2.2"))
        // 60 s after the first two failures they leave the window; the third is still in it.
        clock.advance(seconds: 30)
        #expect(!throttle.isBlocked("192.0.2.1"))
        #expect(throttle.recentFailures("192.0.2.1") == 1)
        clock.advance(seconds: 29, microseconds: 999_999)
        #expect(throttle.recentFailures("192.0.2.1") == 1)
        clock.advance(microseconds: 1)
        #expect(throttle.recentFailures("192.0.2.1") == 0)
    }

    @Test func usesLimitsDefault() {
        let clock = ManualClock()
        var limits = Limits()
        limits.failedLoginsPerMinutePerAddress = 2
        let throttle = LoginThrottle(limits: limits, clock: clock)
        #expect(throttle.limit == 2)
        #expect(throttle.windowSeconds == 60)
        throttle.recordFailure("a")
        #expect(!throttle.isBlocked("a"))
        throttle.recordFailure("a")
        #expect(throttle.isBlocked("a"))
        #expect(LoginThrottle(limits: Limits(), clock: clock).limit == Limits().failedLoginsPerMinutePerAddress)
    }

    @Test func keepsOnlyLimitTimesPerAddress() {
        let clock = ManualClock()
        let throttle = LoginThrottle(limit: 2, clock: clock)
        for _ in 0..<100 { throttle.recordFailure("a") }
        #expect(throttle.recentFailures("a") == 2)
    }

    @Test func memoryIsBounded() {
        let clock = ManualClock()
        let throttle = LoginThrottle(limit: 5, maximumTrackedAddresses: 3, clock: clock)
        throttle.recordFailure("a")
        clock.advance(seconds: 1)
        throttle.recordFailure("b")
        clock.advance(seconds: 1)
        throttle.recordFailure("c")
        clock.advance(seconds: 1)
        throttle.recordFailure("d")  // full: "a", the stalest, is forgotten
        #expect(throttle.trackedAddressCount == 3)
        #expect(throttle.recentFailures("a") == 0)
        #expect(throttle.recentFailures("d") == 1)
        clock.advance(seconds: 120)
        throttle.recordFailure("e")  // everything else expired and is purged
        #expect(throttle.trackedAddressCount == 1)
        clock.advance(seconds: 120)
        throttle.purgeExpired()
        #expect(throttle.trackedAddressCount == 0)
    }

    @Test func isThreadSafe() {
        let clock = ManualClock()
        let throttle = LoginThrottle(limit: 1000, maximumTrackedAddresses: 50, clock: clock)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for index in 0..<500 {
                throttle.recordFailure("10.0.\(worker).\(index % 20)")
                _ = throttle.isBlocked("10.0.\(worker).\(index % 20)")
            }
        }
        #expect(throttle.trackedAddressCount <= 50)
    }

    // MARK: - Reservations (check and count in one step)

    /// Counts how many attempts got past the throttle to the (slow) password check.
    final class Counter: @unchecked Sendable {
        private let lock = Lock()
        private var value = 0
        func increment() { lock.withLock { value += 1 } }
        var count: Int { lock.withLock { value } }
    }

    @Test func parallelWrongPasswordsReachTheCheckAtMostLimitTimes() {
        let throttle = LoginThrottle(limit: 10, clock: ManualClock())
        let checks = Counter()
        let refused = Counter()
        DispatchQueue.concurrentPerform(iterations: 60) { _ in
            guard let attempt = throttle.reserveAttempt(for: "198.51.100.7") else {
                refused.increment()
                return
            }
            checks.increment()
            usleep(2_000)  // the password hash takes a while; the others arrive meanwhile
            throttle.fail(attempt)
        }
        #expect(checks.count == 10)
        #expect(refused.count == 50)
        #expect(throttle.recentFailures("198.51.100.7") == 10)
        #expect(throttle.reserveAttempt(for: "198.51.100.7") == nil)
    }

    @Test func aSucceededAttemptStopsCountingAndFailuresSlideOut() throws {
        let clock = ManualClock()
        let throttle = LoginThrottle(limit: 2, clock: clock)
        let first = try #require(throttle.reserveAttempt(for: "192.0.2.1"))
        let second = try #require(throttle.reserveAttempt(for: "192.0.2.1"))
        #expect(throttle.reserveAttempt(for: "192.0.2.1") == nil, "two in flight use the allowance")
        #expect(throttle.isBlocked("192.0.2.1"))
        throttle.succeed(first)
        throttle.succeed(first)  // settling twice changes nothing
        let third = try #require(throttle.reserveAttempt(for: "192.0.2.1"))
        throttle.fail(second)
        throttle.fail(third)
        #expect(throttle.recentFailures("192.0.2.1") == 2)
        #expect(throttle.reserveAttempt(for: "192.0.2.1") == nil)
        clock.advance(seconds: 61)
        #expect(throttle.reserveAttempt(for: "192.0.2.1") != nil)
    }

    @Test func anUnsettledReservationCountsAsAFailureWhenReleased() {
        let throttle = LoginThrottle(limit: 3, clock: ManualClock())
        do {
            _ = throttle.reserveAttempt(for: "192.0.2.9")
        }
        #expect(throttle.recentFailures("192.0.2.9") == 1)
        #expect(!throttle.isBlocked("192.0.2.9"))
    }

    // MARK: - Client keys

    @Test(arguments: [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::7", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::7]", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("2001:db8::1", "2001:db8::/64"),
        ("::1", "::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::/64", "2001:db8:1:2::/64"),
        ("mail.example.test", "mail.example.test"),
        ("", ""),
        ("not:an:address", "not:an:address"),
    ])
    func clientKeys(address: String, key: String) {
        #expect(LoginThrottle.key(forClient: address) == key)
        #expect(LoginThrottle.key(forClient: key) == key, "a key is its own key")
    }

    @Test func twoAddressesInOneSlash64ShareABucket() {
        let throttle = LoginThrottle(limit: 2, clock: ManualClock())
        throttle.recordFailure("2001:db8:1:2::1")
        if let attempt = throttle.reserveAttempt(for: "2001:db8:1:2:aaaa::2") { throttle.fail(attempt) }
        #expect(throttle.reserveAttempt(for: "2001:db8:1:2:ffff::3") == nil)
        #expect(throttle.isBlocked("2001:db8:1:2::99"))
        #expect(!throttle.isBlocked("2001:db8:1:3::1"), "the next /64 is someone else")
        #expect(!throttle.isBlocked("::ffff:192.0.2.1"), "IPv4-mapped clients are not one /64")
    }
}
