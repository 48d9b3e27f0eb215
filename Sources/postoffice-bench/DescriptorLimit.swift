// DescriptorLimit: raises this process's RLIMIT_NOFILE soft limit to its hard limit. Children started
// with posix_spawn inherit resource limits, so the server under test gets the same ceiling.

#if canImport(Glibc)
import Glibc
#endif

/// The open-file limit of the benchmark process.
enum DescriptorLimit {
    /// Sets the soft limit to the hard limit; returns both afterwards.
    static func raiseToHardLimit() throws -> (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            throw BenchmarkError("getrlimit(RLIMIT_NOFILE): errno \(errno)")
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
                throw BenchmarkError("setrlimit(RLIMIT_NOFILE, \(limit.rlim_max)): errno \(errno)")
            }
        }
        return (clamp(limit.rlim_cur), clamp(limit.rlim_max))
    }

    /// RLIM_INFINITY is the largest rlim_t; report it as Int.max.
    private static func clamp(_ value: rlim_t) -> Int {
        value > rlim_t(Int.max) ? Int.max : Int(value)
    }
}
