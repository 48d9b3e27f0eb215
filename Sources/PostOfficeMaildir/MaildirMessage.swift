// MaildirMessage: one message file found by a scan: where it is (new/ or cur/), its parsed name, its path,
// and its size from the name's S=/W= fields or, for names without them, from stat.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// A message file in a Maildir's `new/` or `cur/`.
public struct MaildirMessage: Hashable, Sendable {
    /// The subdirectory holding the message.
    public enum Directory: String, Hashable, Sendable {
        /// Delivered and not yet seen by any mail reader (maildir(5)).
        case new
        /// Seen by a reader; its name may carry `:2,` flags.
        case cur
    }

    /// The size of a message.
    public struct Size: Hashable, Sendable {
        /// The file's size in bytes (from `S=` when the name has it, else from `stat`).
        public var byteCount: Int
        /// The size with CRLF line ends, when the name records it (`W=`). When nil, a POP3 server
        /// must count the line feeds itself to report RFC 1939 sizes.
        public var virtualByteCount: Int?

        public init(byteCount: Int, virtualByteCount: Int?) {
            self.byteCount = byteCount
            self.virtualByteCount = virtualByteCount
        }
    }

    public var maildir: Maildir
    public var directory: Directory
    /// The parsed name; setting it (new flags, say) sets ``name`` to its formatted form.
    public var filename: MaildirFilename {
        didSet { name = filename.description }
    }
    /// The file name in its directory: kept, not formatted again from ``filename`` on every use (a POP3
    /// session looks messages up and opens them by name; formatting cost more than the rest of a scan).
    public private(set) var name: String

    public init(maildir: Maildir, directory: Directory, filename: MaildirFilename) {
        self.init(maildir: maildir, directory: directory, filename: filename, name: filename.description)
    }

    /// A message a scan found as `name` (which parsed as `filename`): the name is kept as it is on disk, so
    /// the file is opened by its real name even where formatting would differ (flags out of ASCII order).
    init(maildir: Maildir, directory: Directory, filename: MaildirFilename, name: String) {
        self.maildir = maildir
        self.directory = directory
        self.filename = filename
        self.name = name
    }
    /// The unique part of the name, stable across flag changes (a POP3 UIDL candidate).
    public var baseName: String { filename.base }
    /// The `:2,` flags (empty in `new/`).
    public var flags: MaildirFlags { filename.flags }

    /// The file's full path.
    public var path: String {
        (directory == .new ? maildir.newPath : maildir.curPath) + "/" + name
    }

    /// The message size: `S=`/`W=` from the name when present (no system call), otherwise `stat`.
    /// Throws ``MaildirError/messageVanished(path:)`` when the file is gone.
    public func size() throws(MaildirError) -> Size {
        if let bytes = filename.size {
            return Size(byteCount: bytes, virtualByteCount: filename.virtualSize)
        }
        var st = stat()
        // lstat: the size of a symbolic link's target is no business of this mailbox.
        guard lstat(path, &st) == 0 else {
            throw MaildirError.from(SystemError("lstat", errno: errno, detail: path), path: path)
        }
        return Size(byteCount: Int(st.st_size), virtualByteCount: filename.virtualSize)
    }

    /// Opens the message file for reading, never through a symbolic link (`O_NOFOLLOW`, which fails with
    /// `ELOOP`) and only when it is a regular file (a FIFO or device planted under a message name fails
    /// with `EINVAL` instead of blocking the reader). The caller closes the returned descriptor.
    /// Throws ``MaildirError/messageVanished(path:)`` when the file is gone.
    public func openForReading() throws(MaildirError) -> Int32 {
        let path = self.path
        // O_NONBLOCK so opening a FIFO cannot hang; it changes nothing for a regular file.
        let fd: Int32
        do {
            fd = try SystemCall.retrying("open", detail: path) {
                open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            }
        } catch {
            throw MaildirError.from(error, path: path)
        }
        return try Self.requireRegularFile(fd, path: path)
    }

    /// Like ``openForReading()``, relative to `directoryDescriptor`: this message's `new/` or `cur/`, held
    /// open by a reader that opens many messages (a POP3 session), so the path above it is not resolved again
    /// for every message.
    public func openForReading(in directoryDescriptor: Int32) throws(MaildirError) -> Int32 {
        let name = self.name
        let fd: Int32
        do {
            fd = try SystemCall.retrying("open", detail: name) {
                openat(directoryDescriptor, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            }
        } catch {
            throw MaildirError.from(error, path: path)
        }
        return try Self.requireRegularFile(fd, path: path)
    }

    /// A message file opened by ``openForStreaming(in:updatingAccessTime:)``.
    public struct OpenFile: Sendable {
        /// The descriptor; the caller closes it.
        public var descriptor: Int32
        /// The file's size when it was opened (`fstat`): a reader that has read this many bytes and got a
        /// short read is at the end, without one more read that returns 0.
        public var byteCount: Int
        /// False when the open used `O_NOATIME`; true when the kernel refused it (`EPERM`: the process
        /// neither owns the file nor has CAP_FOWNER) and the file was opened without it.
        public var updatesAccessTime: Bool
    }

    /// Like ``openForReading(in:)`` (no symbolic link, only a regular file), and also gives the file's size
    /// from the `fstat` that check makes anyway. With `updatingAccessTime` false it asks for `O_NOATIME`, so
    /// reading a message does not dirty its inode (a journal write per first read under `relatime`); when
    /// that is not permitted it opens the file without it and says so, and the caller stops asking.
    public func openForStreaming(in directoryDescriptor: Int32, updatingAccessTime: Bool) throws(MaildirError) -> OpenFile {
        let name = self.name
        let flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
        var updatesAccessTime = updatingAccessTime
        var fd: Int32 = -1
        do throws(SystemError) {
            if !updatingAccessTime {
                fd = SystemCall.restarting { openat(directoryDescriptor, name, flags | Self.noAccessTime) }
                if fd < 0 {
                    let code = errno
                    guard code == EPERM else { throw SystemError("open", errno: code, detail: name) }
                    updatesAccessTime = true
                }
            }
            if fd < 0 {
                fd = try SystemCall.retrying("open", detail: name) { openat(directoryDescriptor, name, flags) }
            }
        } catch {
            throw MaildirError.from(error, path: path)
        }
        let size = try Self.regularFileSize(fd, path: path)
        return OpenFile(descriptor: fd, byteCount: size, updatesAccessTime: updatesAccessTime)
    }

    /// O_NOATIME, which Glibc's Swift module does not export (it needs _GNU_SOURCE): 0o1000000 in Linux's
    /// asm-generic fcntl.h, which x86_64 and arm64 use. Elsewhere 0, an open without it.
    #if os(Linux)
    private static let noAccessTime: Int32 = 0o1_000_000
    #else
    private static let noAccessTime: Int32 = 0
    #endif

    /// `fd` when it is a regular file; otherwise it is closed and the open fails.
    private static func requireRegularFile(_ fd: Int32, path: @autoclosure () -> String) throws(MaildirError) -> Int32 {
        _ = try regularFileSize(fd, path: path())
        return fd
    }

    /// The size of `fd` when it is a regular file; otherwise it is closed and the open fails.
    private static func regularFileSize(_ fd: Int32, path: @autoclosure () -> String) throws(MaildirError) -> Int {
        var st = stat()
        if fstat(fd, &st) != 0 {
            let code = errno
            close(fd)
            throw .system(SystemError("fstat", errno: code, detail: path()))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .system(SystemError("open", errno: EINVAL, detail: "\(path()) is not a regular file"))
        }
        return Int(st.st_size)
    }

    /// Reads the file to measure both sizes: its bytes, and its bytes with every LF not preceded by CR
    /// counted as CRLF (the RFC 1939 size before byte-stuffing, https://www.rfc-editor.org/rfc/rfc1939#section-11).
    /// For names without `W=` (Postfix, mblaze, qmail). Memory stays flat: the file is read in chunks.
    /// Throws ``MaildirError/messageVanished(path:)`` when the file is gone.
    public func measureSize() throws(MaildirError) -> Size {
        let path = self.path
        let fd = try openForReading()
        defer { close(fd) }
        let chunk = 65536
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 1)
        defer { buffer.deallocate() }
        var bytes = 0
        var bareLineFeeds = 0
        var previous: UInt8 = 0
        while true {
            let n: Int
            do {
                n = try SystemCall.retrying("read", detail: path) { read(fd, buffer.baseAddress, chunk) }
            } catch {
                throw MaildirError.from(error, path: path)
            }
            if n == 0 { break }
            for byte in buffer[..<n] {
                if byte == 10 && previous != 13 { bareLineFeeds += 1 }
                previous = byte
            }
            bytes += n
        }
        return Size(byteCount: bytes, virtualByteCount: bytes + bareLineFeeds)
    }

    // MARK: - Changing flags and deleting

    /// Gives the message exactly `flags` by renaming it to `cur/<base>[,fields]:2,<flags>`; a message
    /// in `new/` moves to `cur/` (this is how a POP3 server marks a message read, with `S`).
    /// Returns the message under its new name; renaming to the same name is a no-op.
    ///
    /// The rename is atomic but not fsync'd: a crash may forget a flag change, never the message.
    /// Call ``Maildir/syncCurDirectory()`` when the change must survive a crash.
    /// Throws ``MaildirError/messageVanished(path:)`` when another reader moved or deleted the file.
    public func settingFlags(_ flags: MaildirFlags) throws(MaildirError) -> MaildirMessage {
        var renamed = self
        renamed.directory = .cur
        renamed.filename.flags = flags
        if renamed == self { return self }
        let from = path, to = renamed.path
        guard rename(from, to) == 0 else {
            throw MaildirError.from(SystemError("rename", errno: errno, detail: from), path: from)
        }
        return renamed
    }

    /// Adds `flags` to the message's flags (see ``settingFlags(_:)``).
    public func addingFlags(_ flags: MaildirFlags) throws(MaildirError) -> MaildirMessage {
        try settingFlags(self.flags.union(flags))
    }

    /// Removes `flags` from the message's flags (see ``settingFlags(_:)``). The message ends in `cur/`.
    public func removingFlags(_ flags: MaildirFlags) throws(MaildirError) -> MaildirMessage {
        try settingFlags(self.flags.subtracting(flags))
    }

    /// Removes the message file. Not fsync'd: call ``Maildir/syncCurDirectory()`` /
    /// ``Maildir/syncNewDirectory()`` when the removal must survive a crash.
    /// Throws ``MaildirError/messageVanished(path:)`` when it was already gone.
    public func delete() throws(MaildirError) {
        let path = self.path
        guard unlink(path) == 0 else {
            throw MaildirError.from(SystemError("unlink", errno: errno, detail: path), path: path)
        }
    }
}
