// BlockingWorkPool: a fixed set of threads for work that blocks on the disk (fsync, directory scans,
// password hashing), so event loops never block and Dispatch does not grow a thread per session.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// A fixed-size pool of threads running submitted closures in order of submission.
///
/// Why not a Dispatch queue: Dispatch answers blocked workers by starting more threads, and 50 sessions
/// each waiting in fsync became 140 threads and most of the server's CPU went to switching between them.
/// A fixed pool bounds concurrent disk waits; group commit makes each wait cover many messages.
/// Plain pthreads (not Foundation's Thread and NSCondition) keep Foundation out of the server.
final class BlockingWorkPool: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// Queued jobs from `head` on; taken slots are nil.
    private var jobs: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var isStopping = false

    /// Starts `threads` threads; `name` labels a failure to start them.
    ///
    /// - Throws: ``SystemError`` (`pthread_create`) when not even one thread could be started; when only
    ///   some could, the pool runs with those.
    init(threads: Int, name: String) throws(SystemError) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
        var started = 0
        var failure: Int32 = 0
        for _ in 0..<max(1, threads) {
            // The thread owns one reference to the pool until it returns from run().
            let reference = Unmanaged.passRetained(self)
            var thread = pthread_t()
            let result = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                Unmanaged<BlockingWorkPool>.fromOpaque(raw).takeRetainedValue().run()
                return nil
            }, reference.toOpaque())
            if result == 0 {
                pthread_detach(thread)
                started += 1
            } else {
                reference.release()
                failure = result
            }
        }
        if started == 0 { throw SystemError("pthread_create", errno: failure, detail: name) }
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Work a job asked to run after it on its own thread (see ``runAfterCurrentJob(_:)``); one per thread,
    /// found through ``deferredKey``, touched only by that thread.
    private final class DeferredJobs {
        var jobs: [@Sendable () -> Void] = []
    }

    /// The thread-specific slot holding each pool thread's ``DeferredJobs`` (unset on other threads).
    private static let deferredKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `work` on this thread right after the pool job running here returns (on any pool's thread),
    /// instead of waking another thread for it: after a commit, its pass over new mail then costs no
    /// futex wake-up and context switch. False, and nothing done, on a thread that is not a pool's.
    static func runAfterCurrentJob(_ work: @escaping @Sendable () -> Void) -> Bool {
        guard let raw = pthread_getspecific(deferredKey) else { return false }
        Unmanaged<DeferredJobs>.fromOpaque(raw).takeUnretainedValue().jobs.append(work)
        return true
    }

    /// Runs `work` on one of the pool's threads.
    func submit(_ work: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        jobs.append(work)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Lets the threads finish the queued work and exit.
    func stop() {
        pthread_mutex_lock(mutex)
        isStopping = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    private func run() {
        let deferred = DeferredJobs()
        pthread_setspecific(Self.deferredKey, Unmanaged.passUnretained(deferred).toOpaque())
        defer { pthread_setspecific(Self.deferredKey, nil) }
        while true {
            pthread_mutex_lock(mutex)
            while head == jobs.count && !isStopping { pthread_cond_wait(condition, mutex) }
            if head == jobs.count {
                pthread_mutex_unlock(mutex)
                return
            }
            // Clear the slot as the job is taken: a finished job still held by the array would keep what
            // it captured (a session, its connection, the message) alive until the next compaction.
            let job = jobs[head]
            jobs[head] = nil
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            pthread_mutex_unlock(mutex)
            job?()
            while !deferred.jobs.isEmpty { deferred.jobs.removeFirst()() }
        }
    }
}
