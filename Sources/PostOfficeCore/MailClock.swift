// MailClock: the injected source of wall-clock time (Maildir names, Received dates, tmp/ ageing).
// Engines never read the clock themselves; tests use a manual clock for deterministic output.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in wall-clock time with microsecond resolution.
public struct MailTime: Hashable, Sendable, Comparable {
    /// Seconds since the Unix epoch.
    public var seconds: Int
    /// Microseconds within the second (0..<1_000_000).
    public var microseconds: Int

    public init(seconds: Int, microseconds: Int = 0) {
        self.seconds = seconds
        self.microseconds = microseconds
    }

    public static func < (a: MailTime, b: MailTime) -> Bool {
        (a.seconds, a.microseconds) < (b.seconds, b.microseconds)
    }
}

/// A source of wall-clock time.
public protocol MailClock: Sendable {
    func now() -> MailTime
}

/// The system's real-time clock (`clock_gettime(CLOCK_REALTIME)`).
public struct SystemClock: MailClock {
    public init() {}
    public func now() -> MailTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return MailTime(seconds: Int(ts.tv_sec), microseconds: Int(ts.tv_nsec) / 1000)
    }
}

/// A clock that only moves when told to; for tests.
public final class ManualClock: MailClock, @unchecked Sendable {
    private let lock = Lock()
    private var current: MailTime

    public init(_ start: MailTime = MailTime(seconds: 1_700_000_000)) { current = start }

    public func now() -> MailTime { lock.withLock { current } }

    /// Moves the clock forward.
    public func advance(seconds: Int = 0, microseconds: Int = 0) {
        lock.withLock {
            var us = current.microseconds + microseconds
            var s = current.seconds + seconds + us / 1_000_000
            us %= 1_000_000
            if us < 0 {
                us += 1_000_000
                s -= 1
            }
            current = MailTime(seconds: s, microseconds: us)
        }
    }
}
