// FileSystem: the two path questions the server and its command line ask outside a Maildir — does this
// exist, and make this directory with its parents — so neither needs Foundation (and its 20 MB of libraries).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small file-system helpers over libc.
public enum FileSystem {
    /// True when something exists at `path` (following symbolic links), as `test -e` answers.
    public static func fileExists(atPath path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }

    /// True when `path` is a directory (following symbolic links).
    public static func isDirectory(atPath path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// `mkdir -p`: creates `path` and any missing parents, each with `mode` (less the umask). An existing
    /// directory is not an error; an existing file of another kind is (`EEXIST`).
    public static func createDirectory(atPath path: String, mode: mode_t = 0o777) throws(SystemError) {
        if path.isEmpty || isDirectory(atPath: path) { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try createDirectory(atPath: String(path[..<slash]), mode: mode)
        }
        if mkdir(path, mode) == 0 { return }
        let code = errno
        // Another process may have made it between our check and mkdir; that is success too.
        if code == EEXIST && isDirectory(atPath: path) { return }
        throw SystemError("mkdir", errno: code, detail: path)
    }
}
