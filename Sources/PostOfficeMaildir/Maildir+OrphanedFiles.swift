// Maildir+OrphanedFiles: after a crash, removes the tmp/ files our own earlier processes left behind
// (their names carry our host and a pid that is no longer running), without waiting 36 hours.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

extension Maildir {
    /// Removes files in `tmp/` named by ``MaildirUniqueNameGenerator`` for `escapedHostname` whose writer
    /// process (`P<pid>`) is no longer alive. Such a file can only be a delivery that died before its
    /// rename into `new/`, so it was never acknowledged. Files of live processes, of other hosts and of
    /// other tools are left to ``removeStaleTemporaryFiles(clock:maximumAge:)``.
    /// Returns the removed names.
    @discardableResult
    public func removeOrphanedTemporaryFiles(
        escapedHostname: String, isProcessAlive: (Int32) -> Bool = Maildir.isProcessAlive
    ) throws(SystemError) -> [String] {
        var removed: [String] = []
        for entry in try DirectoryReader.entries(of: tmpPath).entries where entry.kind != .directory {
            guard let pid = Self.writerProcessID(of: entry.name, escapedHostname: escapedHostname),
                !isProcessAlive(pid)
            else { continue }
            let file = tmpPath + "/" + entry.name
            if unlink(file) == 0 {
                removed.append(entry.name)
            } else if errno != ENOENT {
                throw SystemError("unlink", errno: errno, detail: file)
            }
        }
        return removed.sorted()
    }

    /// The pid in a name of the form `<secs>.M<usecs>P<pid>Q<n>.<host>`, when `<host>` is ours.
    static func writerProcessID(of name: String, escapedHostname: String) -> Int32? {
        guard let firstDot = name.firstIndex(of: ".") else { return nil }
        let rest = name[name.index(after: firstDot)...]
        guard let secondDot = rest.firstIndex(of: ".") else { return nil }
        let unique = rest[..<secondDot]
        guard rest[rest.index(after: secondDot)...] == escapedHostname[...],
            unique.hasPrefix("M"), let p = unique.firstIndex(of: "P"), let q = unique.firstIndex(of: "Q"), p < q
        else { return nil }
        return Int32(unique[unique.index(after: p)..<q])
    }

    /// True when a process with this pid exists (`kill(pid, 0)`; EPERM still means it exists).
    public static func isProcessAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
