// QueueFiles: the few libc operations the queue is built from — exact reads and writes (also at an offset),
// fsync of files and directories, renames that never replace, directory listing and removal — over Glibc only.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// File-system helpers for the queue. Every call goes through `SystemCall` so EINTR is retried.
enum QueueFiles {
    /// Runs a libc call, retrying EINTR, and turns a failure into ``QueueError/system(_:)``.
    static func call<T: FixedWidthInteger>(
        _ name: String, _ detail: @autoclosure () -> String, _ body: () -> T
    ) throws(QueueError) -> T {
        do {
            return try SystemCall.retrying(name, detail: detail(), body)
        } catch {
            throw .system(error)
        }
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o600) throws(QueueError) -> Int32 {
        try call("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// Writes all of `bytes`, retrying short writes.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(QueueError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            offset += try call("write", path) { Glibc.write(descriptor, base + offset, bytes.count - offset) }
        }
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(QueueError) {
        let result: Result<Void, QueueError> = bytes.withUnsafeBytes { raw in
            Result { () throws(QueueError) in try writeAll(descriptor, raw, path: path) }
        }
        try result.get()
    }

    /// Writes all of `bytes` at `offset` (pwrite), retrying short writes.
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(QueueError) {
        let result: Result<Void, QueueError> = bytes.withUnsafeBytes { raw in
            Result { () throws(QueueError) in
                var done = 0
                while done < raw.count {
                    done += try call("pwrite", path) { pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offset + done)) }
                }
            }
        }
        try result.get()
    }

    /// True for a regular file (not a symbolic link to one).
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// True when `path` names the file open as `descriptor` (the same inode on the same device).
    static func names(_ path: String, descriptor: Int32) -> Bool {
        var open = stat(), named = stat()
        return fstat(descriptor, &open) == 0 && lstat(path, &named) == 0
            && open.st_ino == named.st_ino && open.st_dev == named.st_dev
    }

    /// Reads up to `count` bytes at `offset`; fewer only at end of file. `stoppingShort`: one short read is
    /// taken as the end (no second read to see 0), for a caller that reads on when it got too little.
    static func read(
        _ descriptor: Int32, count: Int, at offset: Int, path: String, stoppingShort: Bool = false
    ) throws(QueueError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
        defer { buffer.deallocate() }
        var done = 0
        while done < count {
            let n = try call("pread", path) { pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done)) }
            if n == 0 { break }
            done += n
            if stoppingShort { break }
        }
        return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<done]))
    }

    static func size(_ descriptor: Int32, path: String) throws(QueueError) -> Int {
        var status = stat()
        _ = try call("fstat", path) { fstat(descriptor, &status) }
        return Int(status.st_size)
    }

    /// Reads a whole small file; more than `limit` bytes is reported as a corrupt-looking size.
    static func readFile(_ path: String, limit: Int) throws(QueueError) -> [UInt8]? {
        let descriptor = try open(path, O_RDONLY)
        defer { close(descriptor) }
        let bytes = try read(descriptor, count: limit + 1, at: 0, path: path)
        return bytes.count > limit ? nil : bytes
    }

    /// fsync on a descriptor.
    static func sync(_ descriptor: Int32, path: String) throws(QueueError) {
        _ = try call("fsync", path) { fsync(descriptor) }
    }

    /// Closes, reporting a deferred write error (NFS, quota) as the failure it is.
    static func closeChecked(_ descriptor: Int32, path: String) throws(QueueError) {
        if close(descriptor) != 0 && errno != EINTR {
            throw .system(SystemError("close", errno: errno, detail: path))
        }
    }

    /// fsyncs a directory, making the entries created, renamed or removed in it durable.
    static func syncDirectory(_ path: String) throws(QueueError) {
        let descriptor = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(descriptor) }
        try sync(descriptor, path: path)
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32

    /// glibc's `renameat2` (2.28+), looked up at run time: the Swift Glibc module does not import it.
    private static let renameAt2: RenameAt2? = {
        #if os(Linux)
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
        #else
        return nil
        #endif
    }()

    /// Renames without replacing: a directory rename onto an existing empty directory would otherwise
    /// succeed and silently merge two messages' names. Falls back to a checked `rename` where the kernel
    /// or file system lacks `RENAME_NOREPLACE`.
    static func renameWithoutReplacing(_ from: String, _ to: String) throws(QueueError) {
        if let renameAt2 {
            let result = SystemCall.restarting { renameAt2(AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */) }
            if result == 0 { return }
            if errno != EINVAL && errno != ENOSYS { throw .system(SystemError("rename", errno: errno, detail: to)) }
        }
        if FileSystem.fileExists(atPath: to) { throw .system(SystemError("rename", errno: EEXIST, detail: to)) }
        _ = try call("rename", to) { rename(from, to) }
    }

    /// True for a real directory (not a symbolic link to one): a link planted in the queue is never followed.
    static func isRealDirectory(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// The names in a directory, without `.` and `..`, unsorted.
    static func list(_ path: String) throws(QueueError) -> [String] {
        guard let directory = opendir(path) else { throw .system(SystemError("opendir", errno: errno, detail: path)) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `rm -r` without following symbolic links: unlinks files, recurses into real directories.
    static func removeTree(_ path: String) throws(QueueError) {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw .system(SystemError("lstat", errno: errno, detail: path))
        }
        // Another remover (a scan's sweep of tmp/ beside the remover that renamed it there) may take an entry
        // first: what is already gone counts as removed.
        if (status.st_mode & S_IFMT) == S_IFDIR {
            let names: [String]
            do {
                names = try list(path)
            } catch {
                if case .system(let system) = error, system.errno == ENOENT { return }
                throw error
            }
            for name in names { try removeTree(path + "/" + name) }
            if rmdir(path) != 0 && errno != ENOENT { throw .system(SystemError("rmdir", errno: errno, detail: path)) }
        } else {
            if unlink(path) != 0 && errno != ENOENT { throw .system(SystemError("unlink", errno: errno, detail: path)) }
        }
    }
}
