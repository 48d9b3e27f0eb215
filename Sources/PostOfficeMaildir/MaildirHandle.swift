// MaildirHandle: a Maildir's tmp/ and new/ held open as directory descriptors, so creating, publishing and
// fsyncing a message never resolve a path again after the containment walk: a symbolic link swapped in
// afterwards cannot redirect a write. Obtain one with Maildir.openHandle(inside:); it closes both on deinit.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Open descriptors on a Maildir's `tmp/` and `new/`.
///
/// Every file operation of delivery is relative to these descriptors (`openat`, `renameat2`, `linkat`,
/// `unlinkat`, `fsync`), so what the walk of ``Maildir/openHandle(inside:)`` proved — real directories below
/// the mail root — stays true for the whole delivery even if the paths are changed meanwhile. Not
/// thread-safe to close; the descriptors may be used from any thread while the handle is alive.
///
/// A handle may be shared between threads (every property is a constant) and kept between deliveries by a
/// ``MaildirHandleCache``.
public final class MaildirHandle: Sendable {
    /// The Maildir as named when it was opened (for messages; operations use the descriptors).
    public let maildir: Maildir
    /// The open `tmp/` (drafts are created, linked and removed relative to it). A bare descriptor: nothing
    /// compares or fsyncs `tmp/`, so its identity is never read (one `fstat` less per delivery).
    public let tmpDescriptor: Int32
    /// `new/`.
    public let newDirectory: DirectoryReference
    /// Whether drafts here may be unnamed files: `new/` is on a file system where they are proven
    /// (``MaildirDraft/Placement/unnamedFile``). Read once, when the handle is opened.
    public let keepsUnnamedFiles: Bool

    /// Takes ownership of two open directory descriptors (closed on failure too).
    init(maildir: Maildir, tmpDescriptor: Int32, newDescriptor: Int32) throws(SystemError) {
        self.maildir = maildir
        self.tmpDescriptor = tmpDescriptor
        do {
            newDirectory = try DirectoryReference(path: maildir.newPath, descriptor: newDescriptor)
            keepsUnnamedFiles = MaildirDraft.keepsUnnamedFiles(newDescriptor)
        } catch {
            close(tmpDescriptor)
            close(newDescriptor)
            throw error
        }
    }

    /// Opens `tmp/` and `new/` of `maildir` by path, trusting every component (symbolic links included).
    /// For tools and tests working on a Maildir they chose; delivery uses ``Maildir/openHandle(inside:)``.
    public convenience init(opening maildir: Maildir) throws(SystemError) {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        let tmp = try SystemCall.retrying("open", detail: maildir.tmpPath) { open(maildir.tmpPath, flags) }
        let new: Int32
        do {
            new = try SystemCall.retrying("open", detail: maildir.newPath) { open(maildir.newPath, flags) }
        } catch {
            close(tmp)
            throw error
        }
        try self.init(maildir: maildir, tmpDescriptor: tmp, newDescriptor: new)
    }

    deinit {
        close(tmpDescriptor)
        close(newDirectory.descriptor)
    }

    /// fsyncs `new/` through its descriptor, making publications into it durable.
    public func syncNewDirectory() throws(SystemError) {
        try newDirectory.sync()
    }

    /// Moves `tmp/<name>` to `new/<finalName>`, refusing to replace an existing message where the kernel
    /// and filesystem support it (`renameat2(RENAME_NOREPLACE)`, else `renameat`). Throws the error of the
    /// rename; the tmp file is left for the caller to remove.
    public func publish(_ name: String, as finalName: String) throws(SystemError) {
        if Self.renameWithoutReplacing(tmpDescriptor, name, newDirectory.descriptor, finalName) != 0 {
            throw SystemError("rename", errno: errno, detail: newDirectory.path + "/" + finalName)
        }
    }

    /// Removes `tmp/<name>` (best effort; for rollback).
    public func removeFromTmp(_ name: String) {
        unlinkat(tmpDescriptor, name, 0)
    }

    /// Removes `new/<name>` (best effort; for rollback).
    public func removeFromNew(_ name: String) {
        unlinkat(newDirectory.descriptor, name, 0)
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32

    /// glibc's `renameat2` (2.28+), looked up at run time because the Swift Glibc module does not import it.
    private static let renameAt2: RenameAt2? = {
        #if os(Linux)
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
        #else
        return nil
        #endif
    }()

    /// `renameat2(RENAME_NOREPLACE)`; plain `renameat` when the call or the filesystem lacks it.
    static func renameWithoutReplacing(_ fromDirectory: Int32, _ from: String, _ toDirectory: Int32, _ to: String) -> Int32 {
        if let renameAt2 = renameAt2 {
            let result = renameAt2(fromDirectory, from, toDirectory, to, 1 /* RENAME_NOREPLACE */)
            if result == 0 || (errno != EINVAL && errno != ENOSYS) { return result }
        }
        return renameat(fromDirectory, from, toDirectory, to)
    }
}
