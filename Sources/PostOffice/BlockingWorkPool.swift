// BlockingWorkPool: a fixed set of threads for work that blocks on the disk (fsync, directory scans,
// password hashing), so connection queues never block and Dispatch does not grow a thread per session.

import Foundation
import PostOfficeCore

/// A fixed-size pool of threads running submitted closures in order of submission.
///
/// Why not a Dispatch queue: Dispatch answers blocked workers by starting more threads, and 50 sessions
/// each waiting in fsync became 140 threads and most of the server's CPU went to switching between them.
/// A fixed pool bounds concurrent disk waits; group commit makes each wait cover many messages.
final class BlockingWorkPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var isStopping = false

    init(threads: Int, name: String) {
        for index in 0..<max(1, threads) {
            let thread = Thread { [self] in run() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// Runs `work` on one of the pool's threads.
    func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(work)
        condition.signal()
        condition.unlock()
    }

    /// Lets the threads finish the queued work and exit.
    func stop() {
        condition.lock()
        isStopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while head == jobs.count && !isStopping { condition.wait() }
            if head == jobs.count {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
