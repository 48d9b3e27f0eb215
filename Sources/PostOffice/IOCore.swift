// IOCore: the threads that run a server — one epoll event loop per core for every socket, and a storage pool
// for work that waits on the disk (fsync, password hashing, Maildir scans, blocking embedder hooks) — and the
// registry of live connections. Nothing here knows a protocol.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// Event loops, the storage pool and the connection registry of one server.
final class IOCore: @unchecked Sendable {
    /// One event loop (an epoll thread) per core; connections are spread over them round robin. Nothing
    /// that waits on the disk runs there, so these few threads serve every connection.
    let eventLoops: [EventLoop]
    /// Threads for work that waits: message commits, POP3 logins and updates, hooks that may block.
    let storagePool: BlockingWorkPool
    let registry = ConnectionRegistry()
    private let nextLoop = Lock()
    private var loopIndex = 0

    /// Threads for the storage pool on a machine with `cores` cores. The work waits on fsync more than it
    /// computes, so there are more threads than cores; 8 per core, at least 16 and at most 64 (beyond
    /// that, 50 sessions each waiting in fsync became 140 threads and slowed everything down).
    static func storageThreads(cores: Int) -> Int { min(64, max(16, cores * 8)) }

    init() throws {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        eventLoops = try (0..<max(2, cores)).map { try EventLoop(name: "po-loop-\($0)") }
        // Last, so a failure above leaves no threads behind.
        storagePool = try BlockingWorkPool(threads: Self.storageThreads(cores: cores), name: "po-storage")
    }

    // The pool's threads keep the pool alive; stopping them lets a discarded server free it.
    deinit { storagePool.stop() }

    /// The loop for the next connection, round robin.
    func nextEventLoop() -> EventLoop {
        nextLoop.withLock {
            loopIndex = (loopIndex + 1) % eventLoops.count
            return eventLoops[loopIndex]
        }
    }

    /// Starts the event loops' threads (once, when the server starts).
    func start() {
        eventLoops.forEach { $0.start() }
    }

    /// Stops the event loops' threads once the connections are gone.
    func stop() {
        eventLoops.forEach { $0.shutdown() }
    }
}
