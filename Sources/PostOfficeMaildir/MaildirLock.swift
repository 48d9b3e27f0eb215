// MaildirLock: the exclusive mailbox lock a POP3 session holds (RFC 1939 section 8 asks for one maildrop
// user at a time). flock on a file inside the Maildir: the kernel drops it when the process dies.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// An exclusive lock on a Maildir, held from ``acquire(maildir:fileName:)`` until ``release()`` or deinit.
///
/// It uses `flock(LOCK_EX | LOCK_NB)` on `<maildir>/postoffice-pop3.lock`. flock locks belong to the
/// open file description, so the lock cannot outlive a crashed process, and two sessions in the same
/// process conflict too (each opens the file itself). The lock file is never removed: removing it would
/// let a third session lock a fresh inode while the second still holds the old one.
/// Only PostOffice sessions honour it; Maildir itself stays lock-free for deliveries.
/// See https://www.rfc-editor.org/rfc/rfc1939#section-8.
public final class MaildirLock: @unchecked Sendable {
    /// The default lock file name.
    public static let defaultFileName = "postoffice-pop3.lock"

    public let path: String
    private let lock = Lock()
    private var fileDescriptor: Int32

    private init(path: String, fileDescriptor: Int32) {
        self.path = path
        self.fileDescriptor = fileDescriptor
    }

    /// Takes the lock without waiting. Throws ``MaildirError/inUse(path:)`` when another session or
    /// process holds it, ``MaildirError/system(_:)`` when the file cannot be opened.
    public static func acquire(maildir: Maildir, fileName: String = defaultFileName) throws(MaildirError) -> MaildirLock {
        let path = maildir.path + "/" + fileName
        let fd: Int32
        // O_NOFOLLOW: a lock file replaced by a link must not create or lock a file elsewhere.
        do {
            fd = try SystemCall.retrying("open", detail: path) { open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        } catch {
            throw .system(error)
        }
        if SystemCall.restarting({ flock(fd, LOCK_EX | LOCK_NB) }) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK || code == EAGAIN { throw .inUse(path: path) }
            throw .system(SystemError("flock", errno: code, detail: path))
        }
        return MaildirLock(path: path, fileDescriptor: fd)
    }

    /// True until ``release()``.
    public var isHeld: Bool { lock.withLock { fileDescriptor >= 0 } }

    /// Releases the lock (closing the file drops it). Safe to call more than once.
    public func release() {
        lock.withLock {
            guard fileDescriptor >= 0 else { return }
            close(fileDescriptor)
            fileDescriptor = -1
        }
    }

    deinit {
        if fileDescriptor >= 0 { close(fileDescriptor) }
    }
}
