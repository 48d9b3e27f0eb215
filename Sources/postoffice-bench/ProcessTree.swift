// ProcessTree: the CPU time of a process and all its descendants, read from /proc — for Postfix that is
// the master and every daemon it forked (smtpd, cleanup, qmgr, smtp, ...), as smtp_load.py counts it.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU accounting over a process tree.
enum ProcessTree {
    /// (parent pid, utime + stime, cutime + cstime) in clock ticks, from /proc/PID/stat.
    private static func stat(_ pid: pid_t) -> (parent: pid_t, own: Int, reaped: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3): ppid is field 4, utime..cstime are fields 14-17.
        guard fields.count > 14, let parent = pid_t(fields[1]), let user = Int(fields[11]), let system = Int(fields[12]),
              let childUser = Int(fields[13]), let childSystem = Int(fields[14]) else { return nil }
        return (parent, user + system, childUser + childSystem)
    }

    /// CPU milliseconds used so far by `root` and its live descendants, plus the children `root` has reaped
    /// (counted in its cutime/cstime: Postfix daemons that exited during the run).
    static func cpuMilliseconds(root: pid_t) -> Int {
        var children: [pid_t: [pid_t]] = [:]
        var stats: [pid_t: (parent: pid_t, own: Int, reaped: Int)] = [:]
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") {
            for entry in entries {
                guard let pid = pid_t(entry), let stat = stat(pid) else { continue }
                stats[pid] = stat
                children[stat.parent, default: []].append(pid)
            }
        }
        var ticks = 0
        var pending = [root]
        while let pid = pending.popLast() {
            if let stat = stats[pid] { ticks += stat.own + (pid == root ? stat.reaped : 0) }
            pending += children[pid] ?? []
        }
        let perSecond = max(1, sysconf(Int32(_SC_CLK_TCK)))
        return ticks * 1000 / perSecond
    }
}
