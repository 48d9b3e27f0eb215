// ProcessStatus: one reading of a process's memory and thread count from /proc/PID/status, and its open
// descriptor count from /proc/PID/fd. The idle benchmark reads the server's with it.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Memory (in KiB, as the kernel reports it), threads and descriptors of one process at one moment.
struct ProcessStatus {
    /// Resident set size.
    var residentKilobytes = 0
    /// The anonymous part of it (heap, stacks): what the process itself allocated.
    var anonymousKilobytes = 0
    /// The kernel's high-water mark of the resident set since the process started.
    var peakResidentKilobytes = 0
    var threads = 0
    /// Open descriptors; read only when asked for (listing 10,000 of them is not free).
    var descriptors = 0
    /// CPU time used so far, user and system, from /proc/PID/stat.
    var cpuMilliseconds = 0

    /// All zero.
    init() {}

    /// Reads /proc/`pid`/status (and /proc/`pid`/fd when `countingDescriptors`); nil when the process is gone.
    init?(pid: pid_t, countingDescriptors: Bool = false) {
        if countingDescriptors { descriptors = Self.descriptorCount(pid: pid) }
        cpuMilliseconds = Self.cpuMilliseconds(pid: pid)
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let value = Int(parts[1]) else { continue }
            switch parts[0] {
            case "VmRSS": residentKilobytes = value
            case "RssAnon": anonymousKilobytes = value
            case "VmHWM": peakResidentKilobytes = value
            case "Threads": threads = value
            default: break
            }
        }
    }

    /// utime + stime of `pid` in milliseconds (0 when unreadable). The fields after the command name,
    /// which sits in parentheses and may contain spaces, are counted from its closing one.
    static func cpuMilliseconds(pid: pid_t) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return 0 }
        let ticks = max(1, sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) * 1000 / ticks
    }

    /// Open descriptors of `pid` (entries of /proc/PID/fd), or -1 when it cannot be read.
    static func descriptorCount(pid: pid_t) -> Int {
        guard let directory = opendir("/proc/\(pid)/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != 46 { count += 1 }  // skip "." and ".."
        }
        return count
    }
}
