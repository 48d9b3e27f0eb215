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

    /// All zero.
    init() {}

    /// Reads /proc/`pid`/status (and /proc/`pid`/fd when `countingDescriptors`); nil when the process is gone.
    init?(pid: pid_t, countingDescriptors: Bool = false) {
        if countingDescriptors { descriptors = Self.descriptorCount(pid: pid) }
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
