// QueueSpareFileTests: a delivered message's file goes to spare/ and is overwritten by a later draft only
// once its removal from messages/ was fsync'd; the reused file holds exactly the new message (a longer
// old file is cut), abort and reopening leave no spare behind, a scan never lists a spare, and a reader
// that opened the old message's file before its reuse finds the message gone.

import Foundation
import Testing
import PostOfficeCore
@testable import PostOfficeQueue

@Suite struct QueueSpareFileTests {
    private func inode(_ path: String) -> UInt64? {
        var status = stat()
        return lstat(path, &status) == 0 ? UInt64(status.st_ino) : nil
    }

    private func deliver(_ fixture: QueueFixture, _ id: QueueID) throws {
        try fixture.store.record(id, results: [0: .delivered("ok"), 1: .delivered("ok")])
    }

    @Test func aDeliveredFileIsReusedOnlyAfterMessagesWasSynced() throws {
        let fixture = try QueueFixture()
        let old = try fixture.commit((0..<200_000).map { UInt8(truncatingIfNeeded: $0 % 249) })
        let oldInode = try #require(inode(fixture.messagePath(old)))
        try deliver(fixture, old)
        #expect(fixture.entries("spare") == [old.rawValue])
        #expect(fixture.entries("messages").isEmpty)
        #expect(fixture.entries("tmp").isEmpty)
        #expect(try fixture.store.scan().isEmpty)

        // No fsync of messages/ since the removal: the next draft creates a new file, the spare waits.
        let first = try fixture.commit(Array("Subject: one\r\n\r\nfirst\r\n".utf8))
        #expect(inode(fixture.messagePath(first)) != oldInode)
        #expect(fixture.entries("spare") == [old.rawValue])

        // That commit fsync'd messages/: now the spare is overwritten by the next draft.
        let body = Array("Subject: two\r\n\r\nsecond, much shorter than the old one\r\n".utf8)
        let second = try fixture.commit(body)
        #expect(inode(fixture.messagePath(second)) == oldInode)
        #expect(fixture.entries("spare").isEmpty)
        #expect(fixture.entries("tmp").isEmpty)
        let message = try fixture.store.load(second)
        #expect(message.envelope.messageSize == body.count)
        #expect(try fixture.store.openBody(second).readAll() == body)
        // The old, longer file was cut to the new message: nothing of it is left past the state.
        #expect(fileBytes(fixture.messagePath(second)).count < 1_000)
        #expect(try fixture.store.scan(verifyBodies: true).map(\.id) == [first, second].sorted())

        // The reused file takes state updates like any other and is delivered (and spared) again.
        try fixture.store.record(second, results: [0: .delivered("ok")])
        #expect(try fixture.store.load(second).state.recipients[0].status == .delivered("ok"))
        try fixture.store.record(second, results: [1: .delivered("ok")])
        #expect(fixture.entries("spare") == [second.rawValue])
    }

    /// A reader without the lock that opened a message's file before it was delivered and reused reads the
    /// new draft's bytes: it must report the message gone, never return them under the old id.
    @Test func aReaderOfAFileReusedMeanwhileSeesTheMessageGone() throws {
        let fixture = try QueueFixture()
        let old = try fixture.commit(Array("Subject: old\r\n\r\nold\r\n".utf8))
        let descriptor = open(fixture.messagePath(old), O_RDONLY)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        try deliver(fixture, old)
        _ = try fixture.commit()  // syncs messages/
        let reused = try fixture.commit(Array("Subject: new\r\n\r\nnew\r\n".utf8), recipients: 2)
        #expect(fixture.entries("spare").isEmpty)
        #expect(throws: QueueError.notFound(old)) {
            _ = try fixture.store.read(old, at: .active, descriptor: descriptor, heldLock: nil)
        }
        #expect(fixture.entries("corrupt").isEmpty)
        #expect(try fixture.store.load(reused).id == reused)
    }

    @Test func aReusedFileCanGrow() throws {
        let fixture = try QueueFixture()
        let old = try fixture.commit()
        try deliver(fixture, old)
        _ = try fixture.commit()  // syncs messages/
        let body = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 % 97) }
        let id = try fixture.commit(body)
        #expect(fixture.entries("spare").isEmpty)
        #expect(try fixture.store.openBody(id).readAll() == body)
    }

    @Test func anAbortedReusedDraftLeavesNothing() throws {
        let fixture = try QueueFixture()
        let old = try fixture.commit()
        try deliver(fixture, old)
        let kept = try fixture.commit()
        let draft = try fixture.store.begin(fixture.envelope())
        #expect(fixture.entries("spare").isEmpty)
        #expect(fixture.entries("tmp").count == 1)
        try draft.append(Array("partial".utf8))
        draft.abort()
        #expect(fixture.entries("tmp").isEmpty)
        #expect(try fixture.store.scan().map(\.id) == [kept])
    }

    @Test func reopeningTheStoreEmptiesSpare() throws {
        let fixture = try QueueFixture()
        let old = try fixture.commit()
        try deliver(fixture, old)
        #expect(fixture.entries("spare") == [old.rawValue])
        let reopened = try QueueStore(path: fixture.queuePath, clock: fixture.clock, random: fixture.random, logSink: fixture.logs)
        #expect(fixture.entries("spare").isEmpty)
        // The first store's spare is gone: its next drafts create files instead.
        _ = try fixture.commit()
        let id = try fixture.commit()
        #expect(try reopened.scan().count == 2)
        #expect(try fixture.store.load(id).location == .active)
    }

    @Test func spareHoldsAtMostItsCapacity() throws {
        let fixture = try QueueFixture()
        let ids = try (0..<(QueueSpareFiles.capacity + 3)).map { _ in try fixture.commit() }
        for id in ids { try deliver(fixture, id) }
        #expect(fixture.entries("spare").count == QueueSpareFiles.capacity)
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.entries("messages").isEmpty)
    }
}
