// DataFile: reading and atomically replacing the small text files of a data folder — postoffice.conf, the
// users and aliases files — the way the server's own editors do (temporary file, fsync, rename, fsync).

import PostOfficeAccounts
import PostOfficeCore

#if canImport(Glibc)
import Glibc
#endif

/// The small text files of a data folder: read whole, replaced atomically.
public enum DataFile {
    /// The whole file as UTF-8 (invalid sequences become U+FFFD), or nil when it does not exist.
    public static func read(_ path: String) throws -> String? {
        try AccountsFile.read(path)
    }

    /// Replaces (or creates) `path` with `contents` so a reader sees the old or the new file, never a
    /// mixture, and the new one survives a crash once this returns. `mode` 0600 by default.
    public static func replace(_ path: String, with contents: String, mode: mode_t = 0o600) throws {
        try AccountsFile.replace(path, with: contents, mode: mode)
    }
}
