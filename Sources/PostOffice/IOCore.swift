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
    /// Threads for the outbound queue's own disk work (scans, recording attempts, reports), when the server
    /// delivers outbound; nil otherwise. Apart from the storage pool so that an attempt's bookkeeping, which
    /// frees its destination's slot for the next message, never waits behind a burst of inbound commits
    /// (Postfix keeps its queue manager in a process of its own for the same reason).
    let queuePool: BlockingWorkPool?
    let registry = ConnectionRegistry()
    private let nextLoop = Lock()
    private var loopIndex = 0

    /// Threads for the storage pool on a machine with `cores` cores. The work waits on fsync more than it
    /// computes, so there are more threads than cores; 8 per core, at least 16 and at most 64 (beyond
    /// that, 50 sessions each waiting in fsync became 140 threads and slowed everything down).
    static func storageThreads(cores: Int) -> Int { min(64, max(16, cores * 8)) }

    /// Where the queue manager's work runs: its own pool when there is one.
    var queueWorkPool: BlockingWorkPool { queuePool ?? storagePool }

    /// Threads for the queue pool: fewer than the storage pool's, since the queue's work is mostly reading
    /// bodies from the page cache, small appends and renames.
    static let queueThreads = 8

    init(queue: Bool) throws {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        eventLoops = try (0..<max(2, cores)).map { try EventLoop(name: "po-loop-\($0)") }
        // Last, so a failure above leaves no threads behind.
        storagePool = try BlockingWorkPool(threads: Self.storageThreads(cores: cores), name: "po-storage")
        do {
            queuePool = queue ? try BlockingWorkPool(threads: Self.queueThreads, name: "po-queue") : nil
        } catch {
            storagePool.stop()
            throw error
        }
    }

    // The pools' threads keep the pools alive; stopping them lets a discarded server free them.
    deinit {
        storagePool.stop()
        queuePool?.stop()
    }

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
