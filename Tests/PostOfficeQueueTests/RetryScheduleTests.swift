// RetryScheduleTests: the backoff curve as a table, the attempt sequence it produces (non-decreasing,
// reaches the maximum, never above it — unlike maddy's 15,15,15,15,30), jitter bounds, and expiry.

import Testing
import PostOfficeCore
import PostOfficeQueue

@Suite struct RetryScheduleTests {
    let schedule = RetrySchedule()

    @Test(arguments: [
        (0, 300), (1, 300), (299, 300), (300, 300), (301, 301), (600, 600), (1200, 1200), (1800, 1800),
        (2400, 2400), (3599, 3599), (3600, 3600), (3601, 3600), (86_400, 3600), (5 * 86_400, 3600),
    ])
    func backoffIsTheAgeClamped(age: Int, expected: Int) {
        #expect(schedule.backoff(age: age) == expected)
    }

    @Test func defaultsMatchTheIssue() {
        #expect(schedule.minimalBackoff == 5 * 60)
        #expect(schedule.maximalBackoff == 60 * 60)
        #expect(schedule.maximalQueueLifetime == 5 * 86_400)
        #expect(schedule.bounceQueueLifetime == 2 * 86_400)
    }

    /// Attempts from arrival without jitter: 5, 5, 10, 20, 40, then 60 minutes for good.
    @Test func attemptSequenceGrowsToTheMaximumAndStays() {
        var time = 0
        var delays: [Int] = []
        while time < 86_400 {
            let delay = schedule.backoff(age: time)
            delays.append(delay)
            time += delay
        }
        #expect(Array(delays.prefix(6)) == [300, 300, 600, 1200, 2400, 3600])
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(delays.contains(schedule.maximalBackoff))
        #expect(delays.allSatisfy { (schedule.minimalBackoff...schedule.maximalBackoff).contains($0) })
        // Once the message is 30 minutes old every interval is at least 30 minutes (RFC 5321 §4.5.4.1).
        var t = 0
        for delay in delays {
            if t >= 1800 { #expect(delay >= 1800) }
            t += delay
        }
    }

    @Test(arguments: [0, 300, 600, 1799, 1800, 3000, 3600, 100_000])
    func jitterStaysWithinBounds(age: Int) {
        let random = SeededRandomSource(seed: UInt64(age) &+ 7)
        let base = schedule.backoff(age: age)
        let lowest = max(schedule.minimalBackoff, base - base * schedule.jitterPercent / 100)
        var seen = Set<Int>()
        for _ in 0..<500 {
            let delay = schedule.jitteredBackoff(age: age, random: random)
            #expect((lowest...base).contains(delay))
            #expect(delay <= schedule.maximalBackoff)
            seen.insert(delay)
        }
        if base > schedule.minimalBackoff { #expect(seen.count > 1) }
    }

    @Test func jitterOffIsExact() {
        let exact = RetrySchedule(jitterPercent: 0)
        #expect(exact.jitteredBackoff(age: 1234, random: SeededRandomSource(seed: 1)) == 1234)
    }

    @Test(arguments: [
        // (age at the check in seconds, bounce, expired)
        (0, false, false), (5 * 86_400 - 1, false, false), (5 * 86_400, false, true),
        (2 * 86_400 - 1, true, false), (2 * 86_400, true, true), (3 * 86_400, false, false),
    ])
    func expiryCountsFromArrival(age: Int, isBounce: Bool, expired: Bool) {
        let arrival = MailTime(seconds: 1_700_000_000)
        let now = MailTime(seconds: arrival.seconds + age)
        #expect(schedule.isExpired(arrival: arrival, now: now, isBounce: isBounce) == expired)
    }

    /// Lifetimes come from today's settings: shortening one applies to mail already queued.
    @Test func changedLifetimeAppliesToQueuedMail() {
        let arrival = MailTime(seconds: 1_700_000_000)
        let now = MailTime(seconds: arrival.seconds + 2 * 86_400)
        #expect(!schedule.isExpired(arrival: arrival, now: now, isBounce: false))
        let shorter = RetrySchedule(maximalQueueLifetime: 86_400)
        #expect(shorter.isExpired(arrival: arrival, now: now, isBounce: false))
        #expect(shorter.expiry(arrival: arrival, isBounce: false) == MailTime(seconds: arrival.seconds + 86_400))
    }

    @Test func nextAttemptIsNilWhenItWouldPassTheLifetime() {
        let arrival = MailTime(seconds: 1_700_000_000)
        let random = SeededRandomSource(seed: 3)
        let early = MailTime(seconds: arrival.seconds + 600)
        let next = schedule.nextAttempt(arrival: arrival, now: early, isBounce: false, random: random)
        #expect(next.map { $0.seconds - early.seconds }.map { (540...600).contains($0) } == true)
        let late = MailTime(seconds: arrival.seconds + 5 * 86_400 - 60)
        #expect(schedule.nextAttempt(arrival: arrival, now: late, isBounce: false, random: random) == nil)
    }
}
