// Maildir+TemporaryFiles: removes abandoned files from tmp/. maildir(5) says a tmp/ file untouched for
// 36 hours is garbage (a writer that crashed before rename); Dovecot and Courier use the same age.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

extension Maildir {
    /// maildir(5)'s age after which a file in tmp/ is abandoned: 36 hours.
    public static let temporaryFileLifetime = 36 * 60 * 60

    /// Removes the files (not directories) in `tmp/` whose modification time is more than
    /// `maximumAge` seconds before `clock.now()`. Returns the removed names, sorted.
    /// Files that vanish meanwhile (another cleaner) are passed over.
    ///
    /// See https://cr.yp.to/proto/maildir.html ("the name ... tmp/ ... 36 hours").
    @discardableResult
    public func removeStaleTemporaryFiles(
        clock: any MailClock, maximumAge: Int = Maildir.temporaryFileLifetime
    ) throws(SystemError) -> [String] {
        let cutoff = clock.now().seconds - maximumAge
        var removed: [String] = []
        for entry in try DirectoryReader.entries(of: tmpPath).entries where entry.kind != .directory {
            let file = tmpPath + "/" + entry.name
            guard let st = DirectoryReader.status(file), (st.st_mode & S_IFMT) != S_IFDIR else { continue }
            guard Self.modificationSeconds(st) < cutoff else { continue }
            if unlink(file) == 0 {
                removed.append(entry.name)
            } else if errno != ENOENT {
                throw SystemError("unlink", errno: errno, detail: file)
            }
        }
        return removed.sorted()
    }

    static func modificationSeconds(_ st: stat) -> Int {
        #if canImport(Darwin)
        return Int(st.st_mtimespec.tv_sec)
        #else
        return Int(st.st_mtim.tv_sec)
        #endif
    }
}
