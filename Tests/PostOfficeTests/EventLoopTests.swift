// EventLoopTests: the epoll loop on its own — tasks from other threads run in order on the loop's thread,
// delayed tasks run in deadline order, a registered socket's readiness reaches its handler, and shutdown
// returns once the thread has stopped.

import Dispatch
import Foundation
import PostOfficeCore
import Testing

@testable import PostOffice

@Suite struct EventLoopTests {
    /// Collects values from the loop's thread and lets the test wait for a count.
    final class Recorder: @unchecked Sendable {
        private let lock = Lock()
        private var values: [Int] = []
        private let arrived = DispatchSemaphore(value: 0)

        func add(_ value: Int) {
            lock.withLock { values.append(value) }
            arrived.signal()
        }

        func wait(for count: Int) -> [Int] {
            for _ in 0..<count { _ = arrived.wait(timeout: .now() + 10) }
            return lock.withLock { values }
        }
    }

    @Test func tasksFromOtherThreadsRunInOrderOnTheLoop() throws {
        let loop = try EventLoop(name: "test-loop")
        loop.start()
        defer { loop.shutdown() }
        let recorder = Recorder()
        for value in 0..<100 {
            loop.execute {
                recorder.add(loop.isCurrent ? value : -1)
            }
        }
        #expect(recorder.wait(for: 100) == Array(0..<100))
        #expect(!loop.isCurrent)
    }

    @Test func delayedTasksRunInDeadlineOrder() throws {
        let loop = try EventLoop(name: "test-timers")
        loop.start()
        defer { loop.shutdown() }
        let recorder = Recorder()
        for (value, delay) in [(3, 60), (1, 20), (2, 40), (0, 0)] {
            loop.schedule(afterMilliseconds: delay) { recorder.add(value) }
        }
        #expect(recorder.wait(for: 4) == [0, 1, 2, 3])
    }

    final class SocketHandler: EventLoopHandler, @unchecked Sendable {
        let descriptor: Int32
        let recorder: Recorder

        init(descriptor: Int32, recorder: Recorder) {
            self.descriptor = descriptor
            self.recorder = recorder
        }

        func descriptorReadable() {
            var byte: UInt8 = 0
            let n = read(descriptor, &byte, 1)
            recorder.add(n == 1 ? Int(byte) : -1)
        }

        func descriptorWritable() {}
        func checkDeadline(now: UInt64) {}
    }

    @Test func readinessReachesTheHandlerUntilDeregistered() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer {
            close(pair[0])
            close(pair[1])
        }
        let loop = try EventLoop(name: "test-io")
        loop.start()
        defer { loop.shutdown() }
        let recorder = Recorder()
        let watched = pair[0]
        let handler = SocketHandler(descriptor: watched, recorder: recorder)
        let registered = Recorder()
        loop.execute { registered.add(loop.register(watched, interest: .readable, handler: handler) ? 1 : 0) }
        #expect(registered.wait(for: 1) == [1])
        for byte: UInt8 in [7, 8, 9] {
            var value = byte
            #expect(write(pair[1], &value, 1) == 1)
            _ = recorder.wait(for: 1)
        }
        #expect(recorder.wait(for: 0) == [7, 8, 9])
        loop.execute {
            loop.deregister(watched)
            recorder.add(100)
        }
        #expect(recorder.wait(for: 1).last == 100)
        var late: UInt8 = 1
        #expect(write(pair[1], &late, 1) == 1)
        // A task queued after the byte runs after any readiness the loop saw; the handler must not have run.
        loop.execute { recorder.add(200) }
        #expect(recorder.wait(for: 1) == [7, 8, 9, 100, 200])
    }

    @Test func shutdownStopsTheThreadAndIsIdempotent() throws {
        let loop = try EventLoop(name: "test-stop")
        loop.start()
        let recorder = Recorder()
        loop.execute { recorder.add(1) }
        loop.shutdown()
        loop.shutdown()
        #expect(recorder.wait(for: 1) == [1])
    }
}
