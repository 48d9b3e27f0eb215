// EventLoop: one thread that waits in epoll_wait and runs everything of the connections it owns — reads,
// writes, idle deadlines — plus tasks handed over from other threads and delayed tasks. It replaced a
// Dispatch source per connection: on Linux each Dispatch event costs a hop from the manager thread to a
// worker (futex), an eventfd write and two epoll_ctl calls to re-arm a one-shot registration, which strace
// showed as 13 system calls per POP3 RETR round trip where this loop needs 4. The system's readiness
// interface sits behind ReadinessBackend (epoll on Linux), so another platform adds a backend, not a loop.

import CLinuxEvents
import Glibc
import PostOfficeCore

/// What a loop calls when a registered descriptor is ready. Called only on the loop's thread.
protocol EventLoopHandler: AnyObject {
    /// Readable, or hung up or in error (a read then reports it).
    func descriptorReadable()
    /// Writable again after a send would have blocked.
    func descriptorWritable()
    /// Called about once a second with the loop's clock (uptime nanoseconds), for idle deadlines.
    func checkDeadline(now: UInt64)
}

/// A single-threaded reactor over the platform's readiness backend. Every method except `execute`, `schedule` and `shutdown` must be called
/// on the loop's own thread.
final class EventLoop: @unchecked Sendable {
    /// Which readiness a registration waits for.
    typealias Interest = ReadinessInterest

    let name: String
    private let backend: PlatformReadinessBackend
    private let lock = Lock()
    /// Guarded by `lock`: tasks from other threads, whether a wake-up is already on its way, and stop.
    private var incoming: [@Sendable () -> Void] = []
    private var isWakePending = false
    private var isStopRequested = false
    private var thread = pthread_t()
    private var threadStarted = false
    /// The loop's thread as it knows itself (set by the thread, so never read before it exists).
    private var loopThread: pthread_t?
    private var hasExited = false
    /// Loop thread only.
    private var handlers: [Int32: any EventLoopHandler] = [:]
    private var timers = TimerHeap()
    private var nextDeadlineSweep: UInt64 = 0
    /// How often idle deadlines are checked: timeouts are whole seconds, so a second of slack is fine,
    /// and one sweep costs far less than a timer per connection re-armed on every read.
    private static let sweepInterval: UInt64 = 1_000_000_000

    /// 64 KiB for a read whose bytes are used or copied out before the loop runs anything else (a socket
    /// read, a chunk of a POP3 message): one buffer per loop instead of an allocation per read. Loop thread only.
    let scratch: UnsafeMutableBufferPointer<UInt8>

    init(name: String) throws {
        self.name = name
        backend = try PlatformReadinessBackend()
        scratch = .allocate(capacity: 64 * 1024)
    }

    deinit {
        scratch.deallocate()
    }

    /// Starts the loop's thread.
    func start() {
        let box = Unmanaged.passRetained(self)
        let result = pthread_create(&thread, nil, { argument in
            let loop = Unmanaged<EventLoop>.fromOpaque(argument!).takeRetainedValue()
            loop.run()
            return nil
        }, box.toOpaque())
        if result != 0 {
            box.release()
            fatalError("pthread_create for \(name) failed: \(result)")
        }
        lock.withLock { threadStarted = true }
    }

    /// True when called on this loop's thread.
    var isCurrent: Bool {
        guard let loopThread = lock.withLock({ loopThread }) else { return false }
        return pthread_equal(pthread_self(), loopThread) != 0
    }

    /// True from `start` until `shutdown` is asked for.
    var isRunning: Bool { lock.withLock { threadStarted && !isStopRequested && !hasExited } }

    /// Runs `task` on the loop's thread, after what is already queued. Safe from any thread.
    func execute(_ task: @escaping @Sendable () -> Void) {
        // On the loop itself no wake-up is needed: queued tasks run at the end of this iteration.
        let onLoop = isCurrent
        let wake: Bool = lock.withLock {
            incoming.append(task)
            if onLoop || isWakePending { return false }
            isWakePending = true
            return true
        }
        if wake { signal() }
    }

    /// Runs `task` on the loop's thread after `milliseconds`. Safe from any thread.
    func schedule(afterMilliseconds milliseconds: Int, _ task: @escaping @Sendable () -> Void) {
        let deadline = Self.now() &+ UInt64(max(0, milliseconds)) * 1_000_000
        if isCurrent {
            timers.insert(deadline: deadline, task: task)
        } else {
            execute { [self] in timers.insert(deadline: deadline, task: task) }
        }
    }

    /// Stops the thread once it has run the tasks queued so far, and waits for it (not from the loop itself).
    func shutdown() {
        let join: Bool = lock.withLock {
            defer { isStopRequested = true }
            return !isStopRequested && threadStarted
        }
        guard join else { return }
        signal()
        if !isCurrent { pthread_join(thread, nil) }
    }

    // MARK: - Registrations (loop thread only)

    /// Watches `descriptor` for `interest`; `handler` is kept until `deregister`.
    func register(_ descriptor: Int32, interest: Interest, handler: any EventLoopHandler) -> Bool {
        guard backend.add(descriptor, interest: interest) else { return false }
        handlers[descriptor] = handler
        return true
    }

    /// Changes what `descriptor` waits for.
    func modify(_ descriptor: Int32, interest: Interest) {
        backend.modify(descriptor, interest: interest)
    }

    /// Stops watching `descriptor` and drops its handler. Call before closing the descriptor.
    func deregister(_ descriptor: Int32) {
        backend.remove(descriptor)
        handlers[descriptor] = nil
    }

    /// Drops `descriptor`'s handler without telling the backend: for a descriptor about to be closed, which
    /// removes it from the epoll set anyway. Events already fetched for it are skipped.
    func forget(_ descriptor: Int32) {
        handlers[descriptor] = nil
    }

    /// The loop's clock: CLOCK_MONOTONIC in nanoseconds.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    // MARK: - The loop

    private func signal() {
        backend.wake()
    }

    private func run() {
        lock.withLock { loopThread = pthread_self() }
        _ = clinuxevents_name_thread(String(name.prefix(15)))
        nextDeadlineSweep = Self.now() &+ Self.sweepInterval
        while true {
            let healthy = backend.wait(timeoutMilliseconds: waitMilliseconds()) { event in
                // A handler run earlier in this batch may have closed this descriptor.
                guard let handler = handlers[event.descriptor] else { return }
                if event.isWritable { handler.descriptorWritable() }
                if event.isReadable, let current = handlers[event.descriptor], current === handler {
                    handler.descriptorReadable()
                }
            }
            if !healthy { break }
            let (tasks, stop): ([@Sendable () -> Void], Bool) = lock.withLock {
                defer {
                    incoming = []
                    isWakePending = false
                }
                return (incoming, isStopRequested)
            }
            for task in tasks { task() }
            runTimers()
            if stop { break }
        }
        lock.withLock { hasExited = true }
    }

    /// Milliseconds until the next timer or deadline sweep (-1: none due, wait for events).
    private func waitMilliseconds() -> Int32 {
        // `execute` on the loop sends no wake-up, so a task queued by a task or timer of this iteration
        // (a connect completion starting its connection) would otherwise wait for an unrelated event.
        if lock.withLock({ !incoming.isEmpty }) { return 0 }
        var next = timers.earliestDeadline ?? .max
        if !handlers.isEmpty { next = min(next, nextDeadlineSweep) }
        if next == .max { return -1 }
        let now = Self.now()
        guard next > now else { return 0 }
        // Round up, so that a wait never ends just before the deadline and spins.
        return Int32(min(UInt64(Int32.max), (next - now + 999_999) / 1_000_000))
    }

    private func runTimers() {
        let now = Self.now()
        while let task = timers.popDue(now: now) { task() }
        if now >= nextDeadlineSweep {
            nextDeadlineSweep = now &+ Self.sweepInterval
            for handler in Array(handlers.values) { handler.checkDeadline(now: now) }
        }
    }

    /// Delayed tasks in deadline order (a binary min-heap; ties keep insertion order).
    private struct TimerHeap {
        private var entries: [(deadline: UInt64, sequence: UInt64, task: @Sendable () -> Void)] = []
        private var sequence: UInt64 = 0

        var earliestDeadline: UInt64? { entries.first?.deadline }

        mutating func insert(deadline: UInt64, task: @escaping @Sendable () -> Void) {
            sequence &+= 1
            entries.append((deadline, sequence, task))
            var child = entries.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard precedes(child, parent) else { break }
                entries.swapAt(child, parent)
                child = parent
            }
        }

        mutating func popDue(now: UInt64) -> (@Sendable () -> Void)? {
            guard let first = entries.first, first.deadline <= now else { return nil }
            entries.swapAt(0, entries.count - 1)
            entries.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < entries.count && precedes(left, smallest) { smallest = left }
                if right < entries.count && precedes(right, smallest) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
            return first.task
        }

        private func precedes(_ a: Int, _ b: Int) -> Bool {
            (entries[a].deadline, entries[a].sequence) < (entries[b].deadline, entries[b].sequence)
        }
    }
}
