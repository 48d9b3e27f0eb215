// MonotonicClock: nanosecond readings of CLOCK_MONOTONIC for the benchmarks. Wall-clock time can jump
// (NTP), the monotonic clock cannot, so every duration in postoffice-bench comes from here.

#if canImport(Glibc)
import Glibc
#endif

/// Readings of `clock_gettime(CLOCK_MONOTONIC)`.
enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Seconds elapsed since `start` (a value of ``now()``).
    static func seconds(since start: UInt64) -> Double {
        Double(now() &- start) / 1e9
    }
}
