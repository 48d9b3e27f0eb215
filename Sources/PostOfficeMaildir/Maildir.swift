// Maildir: one mailbox directory with tmp/, new/ and cur/ (qmail's maildir(5)), and its Maildir++ folders.
// It knows paths and directory operations; it knows nothing of SMTP, POP3 or users.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// A Maildir: a directory holding `tmp/`, `new/` and `cur/`.
///
/// See qmail's [maildir(5)](https://cr.yp.to/proto/maildir.html) and the Maildir++ folder convention
/// (subfolders are sibling directories named `.Name`, with `.` separating levels).
public struct Maildir: Hashable, Sendable {
    /// The Maildir's directory, without a trailing slash.
    public var path: String

    public init(path: String) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p
    }

    public var tmpPath: String { path + "/tmp" }
    public var newPath: String { path + "/new" }
    public var curPath: String { path + "/cur" }

    /// The Maildir++ subfolder `name` (`"Archive"` → `<path>/.Archive`; `"Lists.swift"` → `.Lists.swift`).
    /// Returns nil for names that could leave the Maildir (`/`, `..`, NUL, control characters) or are empty.
    public func folder(named name: String) -> Maildir? {
        guard Self.isSafeFolderName(name) else { return nil }
        return Maildir(path: path + "/." + name)
    }

    /// True when `name` is usable as a Maildir++ folder name.
    public static func isSafeFolderName(_ name: String) -> Bool {
        // Bytes, not Characters: a combining mark must not hide a leading `.` or a `..` (found by fuzzing).
        let bytes = Array(name.utf8)
        let dot = UInt8(ascii: ".")
        guard let first = bytes.first, first != dot, bytes.last != dot else { return false }
        if zip(bytes, bytes.dropFirst()).contains(where: { $0 == dot && $1 == dot }) { return false }
        return !name.unicodeScalars.contains {
            let v = $0.value
            return $0 == "/" || v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v) || v == 0x2028 || v == 0x2029
        }
    }

    /// True when `tmp/`, `new/` and `cur/` all exist.
    public var exists: Bool {
        [tmpPath, newPath, curPath].allSatisfy { Self.isDirectory($0) }
    }

    /// Creates the Maildir (and missing parents) with mode 0700. Existing directories are left as they are.
    /// The parent directory entries are fsync'd so a crash cannot forget the new mailbox.
    public func create() throws(SystemError) {
        try Self.makeDirectories(path)
        for sub in [tmpPath, newPath, curPath] {
            try Self.makeDirectory(sub)
        }
        try Self.syncDirectory(path)
    }

    /// fsyncs `new/`, making renames into it durable.
    public func syncNewDirectory() throws(SystemError) {
        try Self.syncDirectory(newPath)
    }

    /// fsyncs `cur/`.
    public func syncCurDirectory() throws(SystemError) {
        try Self.syncDirectory(curPath)
    }

    // MARK: - Directory helpers

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func makeDirectory(_ path: String) throws(SystemError) {
        if mkdir(path, 0o700) == 0 { return }
        let code = errno
        if code == EEXIST && isDirectory(path) { return }
        throw SystemError("mkdir", errno: code, detail: path)
    }

    /// `mkdir -p` with mode 0700 for every created level; fsyncs each parent whose entries changed.
    static func makeDirectories(_ path: String) throws(SystemError) {
        if isDirectory(path) { return }
        let parent = parentPath(path)
        if parent != path && !parent.isEmpty { try makeDirectories(parent) }
        try makeDirectory(path)
        if !parent.isEmpty { try? syncDirectory(parent) }
    }

    static func parentPath(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Opens a directory and fsyncs it.
    public static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = try SystemCall.retrying("open", detail: path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        _ = try SystemCall.retrying("fsync", detail: path) { fsync(fd) }
    }
}
