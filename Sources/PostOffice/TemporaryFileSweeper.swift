// TemporaryFileSweeper: at start-up, walks the mail root and clears tmp/ of every Maildir — files our own
// crashed processes left (at once) and anything older than 36 hours (maildir(5)) — so a crash leaves no litter.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeMaildir

struct TemporaryFileSweeper {
    let mailRoot: String
    let hostname: String
    let clock: any MailClock
    let logSink: any LogSink

    /// Maildirs are found up to this many levels below the mail root (`%d/%n` is 2; `%d/%n/Maildir` 3;
    /// Maildir++ folders one more).
    static let maximumDepth = 5

    /// Sweeps every Maildir; returns how many files were removed.
    @discardableResult
    func sweep() -> Int {
        var removed = 0
        let escaped = MaildirUniqueNameGenerator.escape(hostname: hostname)
        forEachMaildir(below: mailRoot, depth: 0) { maildir in
            removed += (try? maildir.removeOrphanedTemporaryFiles(escapedHostname: escaped).count) ?? 0
            removed += (try? maildir.removeStaleTemporaryFiles(clock: clock).count) ?? 0
        }
        logSink.log(LogRecord(.info, "server.tmp_swept", [("removed", String(removed))]))
        return removed
    }

    private func forEachMaildir(below path: String, depth: Int, _ body: (Maildir) -> Void) {
        guard depth <= Self.maximumDepth, let dir = opendir(path) else { return }
        defer { closedir(dir) }
        var children: [String] = []
        var names: Set<String> = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != "." && name != ".." else { continue }
            names.insert(name)
            if entry.pointee.d_type == UInt8(DT_DIR) { children.append(name) }
        }
        if names.isSuperset(of: ["tmp", "new", "cur"]) { body(Maildir(path: path)) }
        for child in children where !["tmp", "new", "cur"].contains(child) {
            forEachMaildir(below: path + "/" + child, depth: depth + 1, body)
        }
    }
}
