// RetrySchedule: when to try a deferred message again and when to give up. A pure value: the queue
// manager passes the message's arrival, the current time and a random source; nothing here reads a clock.

import PostOfficeCore

/// The retry policy ([RFC 5321 §4.5.4.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.4.1)).
///
/// **Backoff.** The delay before the next attempt is the message's age (now − arrival), clamped to
/// `minimalBackoff...maximalBackoff`: attempts at about 0, 5, 10, 20, 40 minutes, then every 60. Integer
/// seconds throughout, so no rounding can flatten the curve (maddy's float-to-integer truncation gave
/// 15, 15, 15, 15, 30 minutes). Jitter then subtracts a random 0…`jitterPercent`% of that delay, so
/// messages queued together do not retry together; the result never drops below `minimalBackoff` and
/// never exceeds `maximalBackoff`.
///
/// **RFC 5321.** §4.5.4.1 says the retry interval SHOULD be at least 30 minutes and that giving up
/// generally needs at least 4–5 days. The default 5-minute minimum applies only while a message is young
/// (greylisting usually clears in minutes); once a message is 30 / (1 − jitter) minutes old (about 34 minutes
/// with the default 10%), every interval is at least 30 minutes. `maximalQueueLifetime` defaults to 5 days.
///
/// **Lifetimes** are computed from the arrival time and the schedule in force when asked, so a changed
/// setting applies at once to mail already queued. A message with the null reverse-path (a bounce) uses
/// the shorter `bounceQueueLifetime`.
public struct RetrySchedule: Hashable, Sendable {
    /// Shortest delay between attempts, in seconds (default 300).
    public var minimalBackoff: Int
    /// Longest delay between attempts, in seconds (default 3600).
    public var maximalBackoff: Int
    /// How long a message may stay queued before its remaining recipients fail, in seconds (default 5 days).
    public var maximalQueueLifetime: Int
    /// The same for bounces (null reverse-path), in seconds (default 2 days).
    public var bounceQueueLifetime: Int
    /// The largest share of a delay that jitter removes, 0...100 (default 10).
    public var jitterPercent: Int

    public init(
        minimalBackoff: Int = 300, maximalBackoff: Int = 3600, maximalQueueLifetime: Int = 5 * 86_400,
        bounceQueueLifetime: Int = 2 * 86_400, jitterPercent: Int = 10
    ) {
        self.minimalBackoff = max(1, minimalBackoff)
        self.maximalBackoff = max(self.minimalBackoff, maximalBackoff)
        self.maximalQueueLifetime = max(0, maximalQueueLifetime)
        self.bounceQueueLifetime = max(0, bounceQueueLifetime)
        self.jitterPercent = min(100, max(0, jitterPercent))
    }

    /// The delay before the next attempt for a message `age` seconds old, without jitter.
    public func backoff(age: Int) -> Int {
        min(maximalBackoff, max(minimalBackoff, age))
    }

    /// The delay with jitter: `backoff(age:)` less a random 0…jitterPercent% of it, never below the minimum.
    public func jitteredBackoff(age: Int, random: any RandomSource) -> Int {
        let base = backoff(age: age)
        let spread = base * jitterPercent / 100
        guard spread > 0 else { return base }
        let cut = Int(random.next() % UInt64(spread + 1))
        return max(minimalBackoff, base - cut)
    }

    /// When the message must be given up: arrival plus the lifetime that applies to it.
    public func expiry(arrival: MailTime, isBounce: Bool) -> MailTime {
        MailTime(seconds: arrival.seconds + (isBounce ? bounceQueueLifetime : maximalQueueLifetime), microseconds: arrival.microseconds)
    }

    /// True once `now` has reached the expiry: remaining recipients fail (4.4.7 becomes 5.4.7,
    /// [RFC 3463 §3.5](https://www.rfc-editor.org/rfc/rfc3463#section-3.5)).
    public func isExpired(arrival: MailTime, now: MailTime, isBounce: Bool) -> Bool {
        !(now < expiry(arrival: arrival, isBounce: isBounce))
    }

    /// The time of the next attempt after a temporary failure at `now`, or nil when the message will have
    /// expired by then (give up now rather than schedule an attempt past the lifetime).
    public func nextAttempt(arrival: MailTime, now: MailTime, isBounce: Bool, random: any RandomSource) -> MailTime? {
        let delay = jitteredBackoff(age: max(0, now.seconds - arrival.seconds), random: random)
        let next = MailTime(seconds: now.seconds + delay, microseconds: now.microseconds)
        return next < expiry(arrival: arrival, isBounce: isBounce) ? next : nil
    }
}
