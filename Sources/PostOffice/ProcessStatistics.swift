// ProcessStatistics: this process's resident memory (from /proc/self/statm) and open descriptors (the entries
// of /proc/self/fd), read when metrics are scraped. Linux only, as the rest of the runtime; a value that
// cannot be read is nil and its metric is left out rather than reported as 0.

#if canImport(Glibc)
import Glibc
#endif

/// Memory and descriptor use of the running process.
struct ProcessStatistics: Sendable, Equatable {
    /// Resident set size in bytes.
    var residentBytes: Int?
    /// Descriptors open now (the one used to count them excluded).
    var openDescriptors: Int?

    /// Reads both from /proc/self.
    static func current() -> ProcessStatistics {
        ProcessStatistics(residentBytes: residentBytes(), openDescriptors: openDescriptors())
    }

    /// The second field of /proc/self/statm (resident pages) times the page size (proc(5)).
    private static func residentBytes() -> Int? {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let fields = String(decoding: buffer[..<count], as: UTF8.self).split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The entries of /proc/self/fd, less the directory stream opened to list them.
    private static func openDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { count += 1 }
        }
        return max(0, count - 1)
    }
}
