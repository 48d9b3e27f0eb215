// QueueMessageLock: the per-message lock — flock(LOCK_EX) on the message's file (on the directory, for a
// message in the layout before issue 14). The inode follows the message through every rename (tmp/ →
// messages/ → failed/ → corrupt/), so the lock does.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// An exclusive lock on one message file (or old-layout message directory), held until the value is
/// released (closing the descriptor drops the flock). flock locks belong to the open file description, so
/// two threads of one process exclude each other exactly as two processes do. A crashed holder's lock
/// vanishes with it. For a file the descriptor is open for reading and writing: updates go through it.
final class QueueMessageLock {
    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// Waits for the lock on the message file (or, with `directory`, the message directory) at `path`.
    /// Returns nil when nothing is there, or when it was moved or removed while we waited (the caller
    /// looks again): after locking, the path must still name the inode we locked.
    static func acquire(_ path: String, directory: Bool = false) throws(QueueError) -> QueueMessageLock? {
        let flags = directory ? O_RDONLY | O_DIRECTORY : O_RDWR
        let descriptor = SystemCall.restarting { open(path, flags | O_NOFOLLOW | O_CLOEXEC) }
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw .system(SystemError("open", errno: errno, detail: path))
        }
        let lock = QueueMessageLock(descriptor: descriptor)
        _ = try QueueFiles.call("flock", path) { flock(descriptor, LOCK_EX) }
        guard lock.isNamed(by: path) else { return nil }
        return lock
    }

    /// Takes the lock only if nobody holds it (for sweeping tmp/: a held lock means a live writer).
    static func tryAcquire(_ path: String) -> QueueMessageLock? {
        let descriptor = SystemCall.restarting { open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard descriptor >= 0 else { return nil }
        let lock = QueueMessageLock(descriptor: descriptor)
        guard SystemCall.restarting({ flock(descriptor, LOCK_EX | LOCK_NB) }) == 0 else { return nil }
        return lock
    }

    /// True when `path` still names the locked inode and it is not removed.
    func isNamed(by path: String) -> Bool {
        var locked = stat(), named = stat()
        guard fstat(descriptor, &locked) == 0 else { return false }
        return lstat(path, &named) == 0 && named.st_ino == locked.st_ino && named.st_dev == locked.st_dev
            && locked.st_nlink > 0
    }

    /// True while the locked file still has a name (a sweeper has not removed it).
    var isLinked: Bool {
        var status = stat()
        return fstat(descriptor, &status) == 0 && status.st_nlink > 0
    }
}
