// DescriptorBudget: how many connections the process's file descriptor limit can carry. At start-up the
// soft RLIMIT_NOFILE is raised to the hard limit; the connection cap is then kept below it with a reserve,
// so that new connections are refused (421) before a transaction in flight fails to open its tmp/ file,
// its Maildir directories or the log (issue 19, D6).

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDelivery

enum DescriptorBudget {
    /// Descriptors kept for everything that is not a connection: listeners, event loops, the log, the
    /// storage pool's files and directories.
    static let reserve = 64

    /// Each connection may hold, besides its socket, the message file and the Maildir directories it is
    /// delivering into: count two descriptors per connection.
    static let perConnection = 2

    /// Below this many open files (the hard limit, which the soft one is raised to) delivery keeps no Maildir
    /// open between deliveries: the descriptors are worth more as connections there.
    static let openMaildirsFloor = 4096

    /// The Maildirs delivery may keep open (``DeliveryConfiguration/openMaildirLimit``, two descriptors each)
    /// under the process's hard open-files limit.
    static func openMaildirLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        return openMaildirLimit(hardLimit: Int(clamping: limit.rlim_max))
    }

    static func openMaildirLimit(hardLimit: Int) -> Int {
        hardLimit >= openMaildirsFloor ? DeliveryConfiguration.defaultOpenMaildirLimit : 0
    }

    /// Raises the soft descriptor limit to the hard one and returns the connection cap it allows, at most
    /// `configured`, after the reserve and the `openMaildirs` Maildirs delivery keeps open (two descriptors
    /// each). Logs when the limit, not the configuration, decides.
    static func connectionCap(configured: Int, openMaildirs: Int = 0, logSink: any LogSink) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return configured }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let cap = allowed(byDescriptors: Int(clamping: limit.rlim_cur), configured: configured, openMaildirs: openMaildirs)
        if cap < configured {
            logSink.log(LogRecord(.warning, "server.connection_cap", [
                ("max_connections", String(cap)), ("configured", String(configured)),
                ("open_files_limit", String(limit.rlim_cur)),
                ("hint", "raise the open files limit (ulimit -n, LimitNOFILE=) to serve more connections"),
            ]))
        }
        return cap
    }

    /// The cap for a descriptor limit: what is left after the reserve and the kept Maildirs, shared among
    /// connections.
    static func allowed(byDescriptors descriptors: Int, configured: Int, openMaildirs: Int = 0) -> Int {
        max(1, min(configured, (descriptors - reserve - 2 * openMaildirs) / perConnection))
    }
}
