// BlockingWorkPoolTests: the storage pool runs every job, in order on one thread, and lets go of a job
// (and what it captured) once it has run, so finished sessions are not kept alive by the queue.
import Testing
@testable import PostOffice
import PostOfficeCore
#if canImport(Glibc)
import Glibc
#endif

@Suite struct BlockingWorkPoolTests {
    /// Counts its own deinitialisations.
    final class Tracked: @unchecked Sendable {
        let counter: LockedBox<Int>
        init(counter: LockedBox<Int>) { self.counter = counter }
        deinit { counter.update { $0 += 1 } }
    }

    /// Waits (bounded) until `condition` holds; returns whether it did.
    static func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test(arguments: [1, 3, 1500])
    func finishedJobsAreReleased(jobs count: Int) throws {
        let pool = try BlockingWorkPool(threads: 2, name: "test")
        defer { pool.stop() }
        let ran = LockedBox(0)
        let released = LockedBox(0)
        for _ in 0..<count {
            let tracked = Tracked(counter: released)
            pool.submit { withExtendedLifetime(tracked) { ran.update { $0 += 1 } } }
        }
        #expect(Self.eventually { ran.value == count })
        #expect(Self.eventually { released.value == count }, "jobs that ran still hold what they captured")
    }

    @Test func oneThreadRunsJobsInOrder() throws {
        let pool = try BlockingWorkPool(threads: 1, name: "test")
        defer { pool.stop() }
        let order = LockedBox<[Int]>([])
        for index in 0..<100 {
            pool.submit { order.update { $0.append(index) } }
        }
        #expect(Self.eventually { order.value.count == 100 })
        #expect(order.value == Array(0..<100))
    }
}
