// QueueStoreTests: commit then load byte-equal, the on-disk layout, state updates that leave the body
// file alone, record → done / failed/, hold, release, requeue, delete, and the streamed 50 MB body.

import Foundation
import Testing
import PostOfficeCore
@testable import PostOfficeQueue

@Suite struct QueueStoreTests {
    @Test func commitThenLoadIsByteEqual() throws {
        let fixture = try QueueFixture()
        var body: [UInt8] = []
        for i in 0..<200_000 { body.append(UInt8(truncatingIfNeeded: i &* 31)) }
        let draft = try fixture.store.begin(fixture.envelope())
        // Odd chunk sizes: records are re-cut to 64 KiB regardless.
        var offset = 0
        while offset < body.count {
            let end = min(body.count, offset + 7_777)
            try draft.append(Array(body[offset..<end]))
            offset = end
        }
        let id = try draft.commit()
        #expect(fixture.entries("messages") == [id.rawValue])
        #expect(fixture.entries("tmp").isEmpty)
        #expect(QueueFiles.isRegularFile(fixture.messagePath(id)))

        let message = try fixture.store.load(id)
        var expected = fixture.envelope()
        expected.messageSize = body.count
        expected.hasEightBitOctets = true  // i * 31 reaches every byte value
        #expect(message.envelope == expected)
        #expect(message.location == .active)
        #expect(message.state == QueueMessageState(recipientCount: 2, dueAt: fixture.clock.now()))
        #expect(try fixture.store.openBody(id).readAll() == body)
        #expect(fixture.logs.events("queue.stored").first?["queue"] == id.rawValue)
        // What the commit hands on in memory is what a read of the file gives (the manager starts from it).
        #expect(draft.committed?.message == message)
        #expect(draft.committed?.scansBefore == fixture.store.scansStarted)
    }

    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, 3 * 65_536])
    func bodySizesAroundTheChunkSize(size: Int) throws {
        let fixture = try QueueFixture()
        let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) }
        let id = try fixture.commit(body, from: nil)
        let message = try fixture.store.load(id)
        #expect(message.envelope.messageSize == size)
        #expect(message.envelope.reversePath == nil)
        #expect(message.envelope.isBounce)
        #expect(try fixture.store.openBody(id).readAll() == body)
    }

    @Test func abortLeavesNothing() throws {
        let fixture = try QueueFixture()
        let draft = try fixture.store.begin(fixture.envelope())
        try draft.append(Array("partial".utf8))
        draft.abort()
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.entries("messages").isEmpty)
        #expect(try fixture.store.scan().isEmpty)
    }

    /// Identity of the body file: inode, size, mtime and ctime to the nanosecond, and its bytes.
    struct FileIdentity: Equatable {
        var inode: UInt64, size: Int64, mtime: [Int], ctime: [Int], bytes: [UInt8]
        init(_ path: String) {
            var s = stat()
            stat(path, &s)
            inode = UInt64(s.st_ino)
            size = Int64(s.st_size)
            mtime = [Int(s.st_mtim.tv_sec), Int(s.st_mtim.tv_nsec)]
            ctime = [Int(s.st_ctim.tv_sec), Int(s.st_ctim.tv_nsec)]
            bytes = fileBytes(path)
        }
    }

    /// Updates append states after the body: the same inode, the body's bytes as they were, the file longer.
    @Test func stateUpdatesNeverTouchTheBody() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let file = fixture.messagePath(id)
        let before = FileIdentity(file)
        let bodyEnd = QueueCorruptionTests.bodyEnd(before.bytes)
        fixture.clock.advance(seconds: 60)
        try fixture.store.record(id, results: [0: .temporaryFailure(EnhancedStatusCode(4, 2, 1), "451 try later", nextAttempt: MailTime(seconds: 1_700_000_400))])
        try fixture.store.hold(id)
        try fixture.store.release(id)
        try fixture.store.requeue(id)
        let after = FileIdentity(file)
        #expect(after.inode == before.inode)
        #expect(after.bytes.prefix(bodyEnd) == before.bytes.prefix(bodyEnd))
        #expect(after.bytes.prefix(before.bytes.count) == before.bytes[...])
        #expect(after.size > before.size)
        #expect(fixture.entries("messages") == [id.rawValue])
    }

    @Test func recordKeepsPerRecipientState() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit(recipients: 3)
        fixture.clock.advance(seconds: 30)
        let retry = MailTime(seconds: fixture.clock.now().seconds + 300)
        let after = try fixture.store.record(id, results: [
            0: .delivered("250 2.0.0 ok"),
            1: .temporaryFailure(EnhancedStatusCode(4, 4, 1), "no answer", nextAttempt: retry),
        ])
        #expect(after.location == .active)
        #expect(after.state.recipients[0] == QueueRecipientState(status: .delivered("250 2.0.0 ok"), attempts: 1, nextAttempt: MailTime(seconds: 1_700_000_000), lastAttempt: fixture.clock.now()))
        #expect(after.state.recipients[1].status == .temporaryFailure(EnhancedStatusCode(4, 4, 1), "no answer"))
        #expect(after.state.recipients[1].nextAttempt == retry)
        #expect(after.state.recipients[2].status == .pending)
        #expect(after.state.nextAttempt == MailTime(seconds: 1_700_000_000))  // recipient 2 is still due
        #expect(try fixture.store.load(id) == after)
        #expect(throws: QueueError.invalidRequest("recipient index 7 out of range for \(id)")) {
            try fixture.store.record(id, results: [7: .delivered("x")])
        }
    }

    @Test func allDeliveredLeavesTheQueue() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        try fixture.store.record(id, results: [0: .delivered("ok"), 1: .delivered("ok")])
        #expect(fixture.entries("messages").isEmpty)
        #expect(fixture.entries("tmp").isEmpty)
        #expect(throws: QueueError.notFound(id)) { try fixture.store.load(id) }
        #expect(fixture.logs.events("queue.done").count == 1)
    }

    @Test func allFinalWithAFailureMovesToFailedAndStaysListed() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        try fixture.store.record(id, results: [0: .delivered("ok")])
        let after = try fixture.store.record(id, results: [1: .permanentFailure(EnhancedStatusCode(5, 1, 1), "550 no such user")])
        #expect(after.location == .failed)
        #expect(fixture.entries("messages").isEmpty)
        #expect(fixture.entries("failed") == [id.rawValue])
        let listed = try fixture.store.scan()
        #expect(listed.map(\.id) == [id])
        #expect(listed.first?.location == .failed)
        // Further attempts are refused; an operator may requeue it.
        #expect(throws: QueueError.self) { try fixture.store.record(id, results: [1: .delivered("x")]) }
        fixture.clock.advance(seconds: 999)
        let back = try fixture.store.requeue(id)
        #expect(back.location == .active)
        #expect(back.state.recipients[1].status == .pending)
        #expect(back.state.recipients[1].nextAttempt == fixture.clock.now())
        #expect(back.state.recipients[0].status == .delivered("ok"))
    }

    @Test func holdReleaseRequeueDelete() throws {
        let fixture = try QueueFixture()
        let keep = try fixture.commit()
        let id = try fixture.commit()
        #expect(try fixture.store.hold(id).state.isHeld)
        #expect(try fixture.store.load(id).state.isHeld)
        #expect(try !fixture.store.release(id).state.isHeld)

        let later = MailTime(seconds: 1_700_009_999)
        try fixture.store.record(id, results: [0: .temporaryFailure(EnhancedStatusCode(4, 0, 0), "busy", nextAttempt: later)])
        #expect(try fixture.store.load(id).state.recipients[0].nextAttempt == later)
        fixture.clock.advance(seconds: 120)
        let requeued = try fixture.store.requeue(id)
        #expect(requeued.state.recipients.allSatisfy { $0.nextAttempt == fixture.clock.now() })
        #expect(requeued.state.recipients[0].attempts == 1)

        try fixture.store.delete(id)
        #expect(throws: QueueError.notFound(id)) { try fixture.store.load(id) }
        #expect(throws: QueueError.notFound(id)) { try fixture.store.hold(id) }
        #expect(throws: QueueError.notFound(id)) { try fixture.store.delete(id) }
        #expect(try fixture.store.scan().map(\.id) == [keep])
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.logs.events("queue.deleted").first?["queue"] == id.rawValue)
    }

    @Test(arguments: ["", "..", "../etc", "ABCDEF0123", "0123456789abcdef/x", "123"])
    func invalidIDsAreRefused(text: String) {
        #expect(QueueID(text) == nil)
    }

    @Test func idsAreHexAndUnique() throws {
        let fixture = try QueueFixture()
        let ids = try (0..<20).map { _ in try fixture.commit() }
        #expect(Set(ids).count == 20)
        #expect(ids.allSatisfy { QueueID($0.rawValue) == $0 && $0.rawValue.hasPrefix(String(1_700_000_000, radix: 16)) })
    }

    /// 50 MB in 64 KiB chunks through one reused buffer: the draft holds at most one chunk, the reader
    /// returns one record at a time. Size and checksum are checked, not speed.
    @Test func fiftyMegabytesStream() throws {
        let fixture = try QueueFixture()
        let chunk = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let count = 50 * 1024 * 1024 / chunk.count
        let draft = try fixture.store.begin(fixture.envelope(recipients: 1))
        for _ in 0..<count { try draft.append(chunk) }
        let id = try draft.commit()
        let message = try fixture.store.load(id)
        #expect(message.envelope.messageSize == 50 * 1024 * 1024)
        let reader = try fixture.store.openBody(id)
        var total = 0
        var largest = 0
        var crc = CRC32()
        while let piece = try reader.next() {
            total += piece.count
            largest = max(largest, piece.count)
            crc.update(piece)
        }
        #expect(total == 50 * 1024 * 1024)
        #expect(largest == 65_536)
        var expected = CRC32()
        for _ in 0..<count { expected.update(chunk) }
        #expect(crc.value == expected.value)
    }
}
