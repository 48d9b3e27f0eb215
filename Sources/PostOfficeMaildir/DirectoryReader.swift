// DirectoryReader: lists a directory with readdir (no Foundation, no per-entry stat), the way a Maildir
// scan wants it: names plus the d_type hint. The directory itself is opened without following a symbolic
// link. Names that are not valid UTF-8 are counted, not lost silently.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Reads directory entries with `readdir(3)`.
enum DirectoryReader {
    /// One directory entry.
    struct Entry: Sendable {
        enum Kind: Sendable { case regular, directory, symbolicLink, other, unknown }
        var name: String
        var kind: Kind
    }

    /// The entries of `path` except `.` and `..`, and the number of names skipped for not being UTF-8.
    /// A `path` whose last component is a symbolic link fails with `ELOOP`: a planted `new -> /elsewhere`
    /// must not be listed (or swept) as if it were the Maildir's own.
    static func entries(of path: String) throws(SystemError) -> (entries: [Entry], undecodable: Int) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", errno: errno, detail: path) }
        guard let directory = fdopendir(fd) else {
            let code = errno
            close(fd)
            throw SystemError("fdopendir", errno: code, detail: path)
        }
        defer { closedir(directory) }
        var result: [Entry] = []
        var undecodable = 0
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw SystemError("readdir", errno: errno, detail: path) }
                break
            }
            let type = entry.pointee.d_type
            let decoded: String? = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    String(validatingCString: $0)
                }
            }
            guard let name = decoded else {
                undecodable += 1
                continue
            }
            if name == "." || name == ".." { continue }
            let kind: Entry.Kind
            switch Int32(type) {
            case Int32(DT_REG): kind = .regular
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_LNK): kind = .symbolicLink
            case Int32(DT_UNKNOWN): kind = .unknown
            default: kind = .other
            }
            result.append(Entry(name: name, kind: kind))
        }
        return (result, undecodable)
    }

    /// `lstat`, or nil with errno set.
    static func status(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }
}
