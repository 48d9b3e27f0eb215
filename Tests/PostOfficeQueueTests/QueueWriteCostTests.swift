// QueueWriteCostTests: issue 14's cheaper queue writes — a delivered message leaves without a last state
// write, and whether the body has 8-bit octets is recorded at commit (nil for a message queued before).

import Foundation
import Testing
import PostOfficeCore
@testable import PostOfficeQueue

@Suite struct QueueWriteCostTests {
    /// A directory where the state replace writes its temporary file makes any state write fail: the
    /// all-delivered record succeeds anyway, so it wrote no state.
    @Test func aDeliveredMessageLeavesWithoutAStateWrite() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        #expect(mkdir(fixture.messagePath(id) + "/state.new", 0o700) == 0)
        let done = try fixture.store.record(id, results: [0: .delivered("250 ok"), 1: .delivered("250 ok")])
        #expect(done.state.isFinished)
        #expect(fixture.entries("messages").isEmpty)
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.logs.events("queue.done").first?["queue"] == id.rawValue)
    }

    /// The control: an attempt that leaves the message queued does write its state (and trips on the obstacle).
    @Test func anUnfinishedAttemptWritesItsState() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        #expect(mkdir(fixture.messagePath(id) + "/state.new", 0o700) == 0)
        #expect(throws: QueueError.self) {
            try fixture.store.record(id, results: [0: .delivered("250 ok")])
        }
    }

    /// (body size, where one octet above 127 sits, if anywhere): across the 64 KiB record boundary too.
    @Test(arguments: [(0, nil), (20, nil), (20, 5), (200_000, 199_999), (200_000, nil)] as [(Int, Int?)])
    func eightBitOctetsAreRecordedAtCommit(size: Int, highOctetAt: Int?) throws {
        var body = [UInt8](repeating: 0x41, count: size)
        if let highOctetAt { body[highOctetAt] = 0xFC }
        let expected = highOctetAt != nil
        let fixture = try QueueFixture()
        let id = try fixture.commit(body)
        #expect(try fixture.store.load(id).envelope.hasEightBitOctets == expected)
        // And every later state write keeps it.
        try fixture.store.hold(id)
        #expect(try fixture.store.load(id).envelope.hasEightBitOctets == expected)
    }

    /// A state written before the flag existed reads as "not known": delivery then scans the body.
    @Test func aMessageQueuedBeforeTheFlagReadsAsUnknown() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        writeBytes(QueueStateFormat.encode(QueueMessageState(recipientCount: 2, dueAt: fixture.clock.now())),
                   to: fixture.messagePath(id) + "/state")
        let message = try fixture.store.load(id)
        #expect(message.envelope.hasEightBitOctets == nil)
        #expect(message.state == QueueMessageState(recipientCount: 2, dueAt: fixture.clock.now()))
    }
}
