// LoginThrottleTests: the sliding window on a manual clock, per-address independence, the memory cap,
// and concurrent use.

import Dispatch
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
}
