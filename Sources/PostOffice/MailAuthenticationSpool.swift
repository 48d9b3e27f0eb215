// MailAuthenticationSpool: the files that hold what a checked inbound message has beyond the part its session
// keeps in memory, until the verdict is known. Each is unlinked as soon as it is created (nothing to clean up
// after a crash) and reused: truncated and handed to the next large message rather than closed, because
// creating and deleting an inode per message cost more than the copy itself (ext4's allocator then skips
// every recently deleted inode, which slowed the Maildir's own file creation too).

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDelivery

/// A server-wide pool of anonymous, reusable spool files.
final class MailAuthenticationSpool: @unchecked Sendable {
    /// One spool file, owned by one message until it goes back to the pool.
    final class File {
        fileprivate let descriptor: Int32
        /// False once the descriptor went back to the pool (or was closed there).
        fileprivate var ownsDescriptor = true
        /// Bytes written so far.
        private(set) var size = 0

        fileprivate init(descriptor: Int32) { self.descriptor = descriptor }

        /// A file never given back (its message dropped without commit or abort) is closed, not leaked.
        deinit {
            if ownsDescriptor { close(descriptor) }
        }

        /// Appends `bytes` at the end.
        func append(_ bytes: [UInt8]) throws(DeliveryError) {
            let start = size
            let code = bytes.withUnsafeBytes { pointer -> Int32 in
                var offset = 0
                while offset < pointer.count {
                    let written = SystemCall.restarting {
                        pwrite(descriptor, pointer.baseAddress! + offset, pointer.count - offset, off_t(start + offset))
                    }
                    if written < 0 { return errno }
                    offset += written
                }
                return 0
            }
            if code != 0 { throw DeliveryError(storage: SystemError("write", errno: code, detail: "authentication spool")) }
            size += bytes.count
        }

        /// Reads up to `buffer.count` bytes from `offset` into the start of `buffer`; 0 at the end.
        func read(at offset: Int, into buffer: inout [UInt8]) throws(DeliveryError) -> Int {
            let wanted = min(buffer.count, size - offset)
            let count = buffer.withUnsafeMutableBytes { pointer in
                SystemCall.restarting { pread(descriptor, pointer.baseAddress, wanted, off_t(offset)) }
            }
            if count < 0 { throw DeliveryError(storage: SystemError("read", errno: errno, detail: "authentication spool")) }
            return count
        }
    }

    /// Idle files kept open for reuse; beyond this many, returned files are closed.
    let maximumIdle: Int
    /// Bytes all messages together may hold in memory beyond each one's first 64 KiB (see `reserveMemory`).
    let sharedMemoryBudget: Int
    private let lock = Lock()
    private var idle: [Int32] = []
    private var created = 0
    private var sharedMemoryInUse = 0

    init(maximumIdle: Int = 16, sharedMemoryBudget: Int = 16 * 1024 * 1024) {
        self.maximumIdle = maximumIdle
        self.sharedMemoryBudget = sharedMemoryBudget
    }

    /// Claims `count` bytes of the server-wide budget for a message that outgrew its own 64 KiB: a message of a
    /// few hundred KiB then stays in memory instead of costing a spool write, a read back and an emptying
    /// (about a third of what checking a 100 KB message cost). False when the budget is spent: the caller
    /// spools. Memory stays bounded whatever the number of sessions or the size of their messages.
    func reserveMemory(_ count: Int) -> Bool {
        lock.withLock {
            guard sharedMemoryInUse + count <= sharedMemoryBudget else { return false }
            sharedMemoryInUse += count
            return true
        }
    }

    /// Returns bytes claimed with `reserveMemory`.
    func releaseMemory(_ count: Int) {
        lock.withLock { sharedMemoryInUse -= count }
    }

    /// Bytes of the shared budget in use; for tests.
    var sharedMemoryInUseCount: Int { lock.withLock { sharedMemoryInUse } }

    deinit {
        for descriptor in idle { close(descriptor) }
    }

    /// An empty file: an idle one, or a new one in `directory` (created as `name`, then unlinked at once).
    func take(directory: String, name: String) throws(DeliveryError) -> File {
        if let descriptor = lock.withLock({ idle.popLast() }) { return File(descriptor: descriptor) }
        let path = directory + "/" + name
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DeliveryError(storage: SystemError("open", errno: errno, detail: path)) }
        unlink(path)
        lock.withLock { created += 1 }
        return File(descriptor: descriptor)
    }

    /// Takes `file` back: emptied (its pages freed, so it never reaches the disk) and kept for the next
    /// message, or closed when enough are idle or it cannot be emptied.
    func giveBack(_ file: File) {
        guard file.ownsDescriptor else { return }
        file.ownsDescriptor = false
        guard ftruncate(file.descriptor, 0) == 0 else {
            close(file.descriptor)
            return
        }
        let kept = lock.withLock { () -> Bool in
            guard idle.count < maximumIdle else { return false }
            idle.append(file.descriptor)
            return true
        }
        if !kept { close(file.descriptor) }
    }

    /// Files created so far (a steady load reuses them, so this stops growing); for tests.
    var createdCount: Int { lock.withLock { created } }
}
