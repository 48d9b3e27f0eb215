// QueueConcurrencyTests: two threads updating one message through separate lock descriptors (as the
// server and the CLI would) lose no update and leave a valid state file; delete cannot race an update.

import Foundation
import Testing
import PostOfficeCore
@testable import PostOfficeQueue

@Suite struct QueueConcurrencyTests {
    /// With 300 recipients every state is large enough that the file is compacted (a new inode) every few
    /// updates: a writer waiting on the old file must find the new one.
    @Test(arguments: [2, 300])
    func concurrentUpdatesKeepAValidFile(recipients: Int) throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit(recipients: recipients)
        let rounds = 25
        let failures = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for round in 0..<rounds {
                do {
                    let next = MailTime(seconds: 1_700_000_000 + round)
                    try fixture.store.record(id, results: [worker: .temporaryFailure(EnhancedStatusCode(4, 0, 0), "w\(worker) r\(round)", nextAttempt: next)])
                    if round % 5 == 0 { try fixture.store.hold(id) } else { try fixture.store.release(id) }
                    _ = try fixture.store.load(id)
                } catch {
                    failures.add()
                }
            }
        }
        #expect(failures.value == 0)
        let message = try fixture.store.load(id)
        // Each read-modify-write happened under the lock: no attempt was lost.
        #expect(message.state.recipients.map(\.attempts) == [rounds, rounds] + Array(repeating: 0, count: recipients - 2))
        #expect(message.state.recipients[0].status.reply == "w0 r\(rounds - 1)")
        #expect(message.state.recipients[1].status.reply == "w1 r\(rounds - 1)")
        #expect(fixture.entries("corrupt").isEmpty)
        #expect(QueueFiles.isRegularFile(fixture.messagePath(id)))
        #expect(fixture.entries("tmp").isEmpty)
    }

    @Test func deleteAndUpdatesRaceCleanly() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let unexpected = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            if worker == 0 {
                for _ in 0..<20 {
                    do {
                        try fixture.store.record(id, results: [0: .temporaryFailure(EnhancedStatusCode(4, 0, 0), "x", nextAttempt: MailTime(seconds: 0))])
                    } catch QueueError.notFound {
                        return  // deleted under us: the expected end
                    } catch {
                        unexpected.add()
                    }
                }
            } else {
                usleep(5_000)
                do { try fixture.store.delete(id) } catch { unexpected.add() }
            }
        }
        #expect(unexpected.value == 0)
        #expect(throws: QueueError.notFound(id)) { try fixture.store.load(id) }
        #expect(fixture.entries("messages").isEmpty)
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.entries("corrupt").isEmpty)
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = Lock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
