// MaildirDraft: a message being written, then made durable in new/: by the maildir(5) protocol (open O_EXCL in
// tmp/ → write all → fsync → close → rename into new/ → fsync new/) or, for a delivery whose copies are all held
// open (up to 16 Maildirs), as unnamed O_TMPFILE files on new/'s file system (write all → fsync → link into
// new/ → close → fsync new/).
// Only then is it "delivered". Every step goes through the MaildirHandle's directory descriptors.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore
import CLinuxEvents

/// A message file being written in a Maildir's `tmp/`.
///
/// Call ``write(_:)`` as bytes arrive (memory stays flat however large the message), then ``commit(virtualSize:syncDirectory:)``
/// to make it durable in `new/`, or ``abandon()`` to remove it. Not thread-safe: one owner at a time.
///
/// The file is created with `openat(tmp, name, O_CREAT | O_EXCL | O_NOFOLLOW)`, published with
/// `renameat2(tmp, name, new, final)` and `new/` is fsync'd through its descriptor, all relative to the
/// ``handle``: replacing `tmp/` or `new/` by a symbolic link after the handle was opened changes nothing.
/// With ``Placement/unnamedFile`` it is created with `openat(new, ".", O_TMPFILE)` and published with
/// `linkat` (which never replaces an existing name); see ``Placement``.
public final class MaildirDraft {
    /// Where the message's bytes live until ``commit(virtualSize:syncDirectory:)``.
    public enum Placement: Sendable {
        /// A named file in `tmp/`, renamed into `new/`: the maildir(5) protocol, which a further copy can
        /// read or hard-link by name (``openForReading()``).
        case temporaryDirectory
        /// An unnamed file (`O_TMPFILE`) on `new/`'s file system, linked into `new/` once fsync'd. Readers see
        /// the same thing as with a rename (the whole file appears at once, or nothing), but there is no `tmp/`
        /// entry to create and remove and no rename between directories (on ext4 the creation allocated the
        /// inode under `tmp/`'s directory lock, which concurrent deliveries spun on; 4–9 % less CPU per message
        /// at 10 concurrent 1 KB deliveries, see docs/performance.md). An abandoned or crashed draft leaves
        /// nothing in `tmp/`. Falls back to ``temporaryDirectory`` where the file system has no `O_TMPFILE`
        /// or `/proc/self/fd` is missing (the link without CAP_DAC_READ_SEARCH goes through it).
        case unnamedFile
    }

    /// Whether the draft is an unnamed file (``Placement/unnamedFile`` took effect).
    public let isUnnamed: Bool
    /// The open `tmp/` and `new/` the draft is written in and published to.
    public let handle: MaildirHandle
    /// The unique base name, without `,S=`/`,W=` (those are known only at the end).
    public let baseName: String
    /// The open file, readable and writable; valid until commit or abandon. Exposed for kernel-side copies
    /// (`copy_file_range`), into it and out of it: further copies of a message read the first draft through
    /// it with explicit offsets, instead of opening the file again (through `/proc/self/fd` when unnamed).
    public private(set) var fileDescriptor: Int32
    /// Bytes written so far.
    public private(set) var byteCount = 0

    /// Opens `tmp/<baseName>` inside `handle` with `O_CREAT | O_EXCL | O_NOFOLLOW`, so an existing file
    /// (or link) is never reused. A `baseName` that is not a valid Maildir base
    /// (``MaildirFilename/isValidBase(_:)``: empty, leading `.`, or containing `/`, `,`, `:` or control
    /// characters) fails with `EINVAL` before touching the disk.
    ///
    /// `placement`: ``Placement/unnamedFile`` when the draft stays open until its commit (an unnamed file
    /// has no name for a further copy to hard-link; it can still be read through ``openForReading()``).
    public init(handle: MaildirHandle, baseName: String, placement: Placement = .temporaryDirectory) throws(SystemError) {
        self.handle = handle
        self.baseName = baseName
        guard MaildirFilename.isValidBase(baseName) else {
            fileDescriptor = -1
            isUnnamed = false
            throw SystemError("open", errno: EINVAL, detail: handle.maildir.tmpPath + "/" + baseName)
        }
        if placement == .unnamedFile, Self.procFileDescriptorsAvailable, handle.keepsUnnamedFiles {
            let newDirectory = handle.newDirectory.descriptor
            var descriptor: Int32
            repeat {
                descriptor = clinuxevents_open_unnamed(newDirectory, O_RDWR | O_CLOEXEC, 0o600)
            } while descriptor < 0 && errno == EINTR
            if descriptor >= 0 {
                fileDescriptor = descriptor
                isUnnamed = true
                return
            }
            // No O_TMPFILE here (an older kernel opens the directory itself: EISDIR; a file system without
            // it: EOPNOTSUPP): the named protocol below. Anything else is a real failure.
            let code = errno
            guard code == EOPNOTSUPP || code == EISDIR || code == EINVAL || code == ENOSYS else {
                fileDescriptor = -1
                isUnnamed = false
                throw SystemError("open", errno: code, detail: handle.newDirectory.path + " (O_TMPFILE)")
            }
        }
        isUnnamed = false
        let directory = handle.tmpDescriptor
        // The path only names the file in an error (built here, not for the unnamed drafts above).
        let path = handle.maildir.tmpPath + "/" + baseName
        fileDescriptor = try SystemCall.retrying("open", detail: path) {
            openat(directory, baseName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
    }

    /// Tests: link as an unprivileged process does (through `/proc/self/fd`, not AT_EMPTY_PATH).
    var linksThroughProc = false

    /// Whether `/proc/self/fd` exists: linking an unnamed file without CAP_DAC_READ_SEARCH goes through it,
    /// so without it drafts stay named (checked once per process).
    private static let procFileDescriptorsAvailable = access("/proc/self/fd", X_OK) == 0

    /// Whether `new/` is on a local file system where unnamed files are proven here (ext2/3/4, XFS, Btrfs,
    /// tmpfs). Elsewhere — FUSE, NFS, overlays — the named tmp/ protocol, as before unnamed drafts existed: a
    /// conservative choice for network and stacked file systems, not a known bug. (GlusterFS's FUSE client
    /// refuses `O_TMPFILE` anyway, EOPNOTSUPP with Debian's 10.3, so its mounts always took the named path.)
    static func keepsUnnamedFiles(_ directory: Int32) -> Bool {
        switch clinuxevents_file_system_type(directory) {
        case 0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994: return true  // ext2/3/4, XFS, Btrfs, tmpfs
        default: return false
        }
    }

    /// Opens the Maildir's `tmp/` and `new/` by path (``MaildirHandle/init(opening:)``, trusting every
    /// component), then the draft in it. Delivery below a mail root uses ``init(handle:baseName:)`` with
    /// a handle from ``Maildir/openHandle(inside:)``.
    public convenience init(maildir: Maildir, baseName: String) throws(SystemError) {
        guard MaildirFilename.isValidBase(baseName) else {
            throw SystemError("open", errno: EINVAL, detail: maildir.tmpPath + "/" + baseName)
        }
        try self.init(handle: MaildirHandle(opening: maildir), baseName: baseName)
    }

    deinit {
        if fileDescriptor >= 0 { abandon() }
    }

    /// The Maildir, as named when its handle was opened.
    public var maildir: Maildir { handle.maildir }

    /// The path the file had when created, for messages (operations use the handle's descriptors); an
    /// unnamed draft is described as `new/(unnamed <base name>)`.
    public var tmpPath: String {
        isUnnamed ? maildir.newPath + "/(unnamed \(baseName))" : maildir.tmpPath + "/" + baseName
    }

    /// Opens the file again, read-only, relative to `tmp/` (an unnamed draft through `/proc/self/fd`). Delivery
    /// reads a draft through ``fileDescriptor`` instead; this is for a reader that needs its own file position.
    public func openForReading() throws(SystemError) -> Int32 {
        if isUnnamed {
            precondition(fileDescriptor >= 0, "openForReading after commit or abandon")
            let path = "/proc/self/fd/\(fileDescriptor)"
            return try SystemCall.retrying("open", detail: tmpPath) { open(path, O_RDONLY | O_CLOEXEC) }
        }
        let directory = handle.tmpDescriptor
        let name = baseName
        return try SystemCall.retrying("open", detail: tmpPath) {
            openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        }
    }

    /// Writes all of `bytes`, retrying short writes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        precondition(fileDescriptor >= 0, "write after commit or abandon")
        var offset = 0
        while offset < bytes.count {
            let n = try SystemCall.retrying("write", detail: tmpPath) {
                Glibc.write(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
            }
            offset += n
        }
        byteCount += bytes.count
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws(SystemError) {
        let result: Result<Void, SystemError> = bytes.withUnsafeBytes { p in
            Result { () throws(SystemError) in try write(p) }
        }
        try result.get()
    }

    /// fsyncs the file now (before other copies are made from it), so ``commit(virtualSize:syncDirectory:)``
    /// need not fsync it again unless more bytes are written.
    public func sync() throws(SystemError) {
        precondition(fileDescriptor >= 0, "sync after commit or abandon")
        let fd = fileDescriptor
        _ = try SystemCall.retrying("fsync", detail: tmpPath) { fsync(fd) }
        syncedByteCount = byteCount
    }

    /// Starts writing the file's bytes to the device without waiting (`sync_file_range(2)`,
    /// `SYNC_FILE_RANGE_WRITE`), so that writing further copies overlaps with this one's I/O. It makes nothing
    /// durable: ``sync()`` or ``commit(virtualSize:syncDirectory:)`` still fsyncs.
    public func startWriteback() {
        precondition(fileDescriptor >= 0, "startWriteback after commit or abandon")
        Self.startWriteback(descriptor: fileDescriptor)
    }

    /// ``startWriteback()`` for any open file; failures are ignored (the fsync that follows reports errors).
    public static func startWriteback(descriptor: Int32) {
        _ = clinuxevents_start_writeback(descriptor)
    }

    /// Bytes known to be on stable storage (-1: never synced).
    private var syncedByteCount = -1

    /// Records bytes added to the file by other means (for example `copy_file_range` on ``fileDescriptor``).
    public func noteWritten(_ count: Int) {
        byteCount += count
    }

    /// The file name the message gets in `new/`: `<base>,S=<size>,W=<virtualSize>`.
    public func finalName(virtualSize: Int?) -> String {
        var name = baseName + ",S=\(byteCount)"
        if let virtualSize { name += ",W=\(virtualSize)" }
        return name
    }

    /// Makes the message durable: fsync, close, rename into `new/`, then (unless the caller batches it)
    /// fsync `new/`. Returns the file name in `new/`. Only after it returns may the message be acknowledged.
    ///
    /// If the final fsync of `new/` fails, the file is already in `new/` but may not survive a crash; the
    /// error is thrown anyway (the caller answers with a temporary failure, so at worst the sender retries
    /// and the message is delivered twice, never lost).
    ///
    /// - Parameter virtualSize: the message size with CRLF line endings, recorded as `W=` for POP3.
    /// - Parameter syncDirectory: pass false only when the caller fsyncs `new/` itself (group commit,
    ///   through ``handle``'s ``MaildirHandle/newDirectory``) before acknowledging the message.
    @discardableResult
    public func commit(virtualSize: Int?, syncDirectory: Bool = true) throws(SystemError) -> String {
        precondition(fileDescriptor >= 0, "commit after commit or abandon")
        let fd = fileDescriptor
        if syncedByteCount != byteCount {
            do {
                _ = try SystemCall.retrying("fsync", detail: tmpPath) { fsync(fd) }
            } catch {
                abandon()
                throw error
            }
        }
        if isUnnamed { return try commitUnnamed(fd, virtualSize: virtualSize, syncDirectory: syncDirectory) }
        fileDescriptor = -1
        // close can report a deferred write error (NFS, quota): a failed close means a failed delivery.
        if close(fd) != 0 && errno != EINTR {
            let code = errno
            handle.removeFromTmp(baseName)
            throw SystemError("close", errno: code, detail: tmpPath)
        }
        let name = finalName(virtualSize: virtualSize)
        // rename, not link: link fails on some filesystems (AFS, some FUSE) and leaves a tmp/ entry to
        // clean; rename is atomic. The O_EXCL name in tmp/ only guards tmp/, so the rename refuses to
        // replace an existing message (RENAME_NOREPLACE) where the kernel and filesystem support it:
        // two generators colliding must fail a delivery (EEXIST, temporary), never overwrite a message.
        do {
            try handle.publish(baseName, as: name)
        } catch {
            handle.removeFromTmp(baseName)
            throw error
        }
        if syncDirectory {
            try handle.syncNewDirectory()
        }
        return name
    }

    /// ``commit(virtualSize:syncDirectory:)`` of an unnamed draft, already fsync'd: link it into `new/`, then
    /// close (a file that is closed before it has a name is gone), then fsync `new/`.
    private func commitUnnamed(_ fd: Int32, virtualSize: Int?, syncDirectory: Bool) throws(SystemError) -> String {
        let name = finalName(virtualSize: virtualSize)
        let newDirectory = handle.newDirectory.descriptor
        // linkat never replaces an existing name (EEXIST): a colliding name fails the delivery, never
        // overwrites a message.
        var result = linksThroughProc ? -1 : clinuxevents_link_open_file(fd, newDirectory, name)
        if linksThroughProc || (result != 0 && errno == ENOENT) {
            // Without CAP_DAC_READ_SEARCH, AT_EMPTY_PATH answers ENOENT; the /proc link needs no privilege.
            result = linkat(AT_FDCWD, "/proc/self/fd/\(fd)", newDirectory, name, AT_SYMLINK_FOLLOW)
        }
        fileDescriptor = -1
        if result != 0 {
            let code = errno
            close(fd)
            throw SystemError("link", errno: code, detail: handle.newDirectory.path + "/" + name)
        }
        // close can report a deferred write error (NFS, quota): the message is then taken back out of new/.
        if close(fd) != 0 && errno != EINTR {
            let code = errno
            handle.removeFromNew(name)
            throw SystemError("close", errno: code, detail: handle.newDirectory.path + "/" + name)
        }
        if syncDirectory {
            try handle.syncNewDirectory()
        }
        return name
    }

    /// Closes and removes the tmp file (an unnamed draft vanishes with its descriptor). Safe to call more
    /// than once.
    public func abandon() {
        guard fileDescriptor >= 0 else { return }
        close(fileDescriptor)
        fileDescriptor = -1
        if !isUnnamed { handle.removeFromTmp(baseName) }
    }
}
