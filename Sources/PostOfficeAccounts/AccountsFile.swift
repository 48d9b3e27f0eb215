// AccountsFile: reading the small text files that hold users and aliases, and replacing them atomically:
// write a temporary file in the same directory, fsync it, rename it over the old one, fsync the directory.
// Editors hold an flock(2) on a `.lock` file beside it so two `postoffice user add` runs cannot interleave.

import PostOfficeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File operations shared by ``UserDatabase`` and ``AliasTable``.
public enum AccountsFile {
    /// Reads the whole file as UTF-8 (invalid sequences become U+FFFD). Returns nil when it does not exist.
    public static func read(_ path: String) throws(SystemError) -> String? {
        let descriptor: Int32
        do {
            descriptor = try SystemCall.retrying("open", detail: path) { open(path, O_RDONLY | O_CLOEXEC) }
        } catch {
            if error.errno == ENOENT { return nil }
            throw error
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        let capacity = 65536
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let count = try SystemCall.retrying("read", detail: path) { Glibc.read(descriptor, buffer, capacity) }
            if count == 0 { break }
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: count))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces `path` with `contents` so that readers see either the old or the new file, never a
    /// mixture, and the new one survives a crash once this returns.
    ///
    /// The new file gets `mode` (0600 by default: the users file holds password hashes). When the old file
    /// exists and the caller is allowed to, its owner and group carry over (so a root-run CLI does not
    /// take a file away from the server's user).
    public static func replace(_ path: String, with contents: String, mode: mode_t = 0o600) throws(SystemError) {
        let directory = directoryName(of: path)
        let temporaryPath = path + ".tmp." + String(getpid())
        var descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if descriptor < 0 && errno == EEXIST {
            // Left over from a crashed run with our pid; we hold the lock, so nobody else is writing it.
            unlink(temporaryPath)
            descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        }
        if descriptor < 0 { throw SystemError("open", errno: errno, detail: temporaryPath) }
        var renamed = false
        defer {
            if descriptor >= 0 { close(descriptor) }
            if !renamed { unlink(temporaryPath) }
        }
        // The umask may have cleared bits; the mode is part of the promise.
        _ = try SystemCall.retrying("fchmod", detail: temporaryPath) { fchmod(descriptor, mode) }
        var old = stat()
        if stat(path, &old) == 0 {
            // Best effort: only root may give a file away; anyone else keeps their own ownership.
            _ = fchown(descriptor, old.st_uid, old.st_gid)
        }
        let bytes = Array(contents.utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        var offset = 0
        while offset < bytes.count {
            let written = try SystemCall.retrying("write", detail: temporaryPath) {
                write(descriptor, buffer.baseAddress.map { $0 + offset }, bytes.count - offset)
            }
            offset += written
        }
        _ = try SystemCall.retrying("fsync", detail: temporaryPath) { fsync(descriptor) }
        let closing = descriptor
        descriptor = -1
        _ = try SystemCall.retrying("close", detail: temporaryPath) { close(closing) }
        _ = try SystemCall.retrying("rename", detail: path) { rename(temporaryPath, path) }
        renamed = true
        let directoryDescriptor = try SystemCall.retrying("open", detail: directory) {
            open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        defer { close(directoryDescriptor) }
        _ = try SystemCall.retrying("fsync", detail: directory) { fsync(directoryDescriptor) }
    }

    /// Runs `body` holding an exclusive flock(2) on `path.lock`, so read-modify-write cycles of different
    /// processes (or threads) do not lose each other's changes. The lock file is left in place.
    ///
    /// - Throws: ``AccountsError/system(_:)`` when the lock cannot be taken, or what `body` throws.
    public static func withExclusiveLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let lockPath = path + ".lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AccountsError.system(SystemError("open", errno: errno, detail: lockPath)) }
        defer { close(descriptor) }  // closing releases the lock
        do {
            _ = try SystemCall.retrying("flock", detail: lockPath) { flock(descriptor, LOCK_EX) }
        } catch {
            throw AccountsError.system(error)
        }
        return try body()
    }

    /// ``read(_:)`` with its error wrapped for the accounts API.
    static func readWrapped(_ path: String) throws(AccountsError) -> String? {
        do { return try read(path) } catch { throw .system(error) }
    }

    /// ``replace(_:with:mode:)`` with its error wrapped for the accounts API.
    static func replaceWrapped(_ path: String, with contents: String) throws(AccountsError) {
        do { try replace(path, with: contents) } catch { throw .system(error) }
    }

    static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}
