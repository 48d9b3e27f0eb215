// QueueWriteCostTests: issue 14's cheaper queue — a delivered message leaves without a last state write, states
// are appended (a torn append falls back, long logs are compacted), 8-bit octets are recorded at commit, and a
// queue in the layout before issue 14 is converted.

import Foundation
import Testing
import PostOfficeCore
@testable import PostOfficeQueue

@Suite struct QueueWriteCostTests {
    /// A second name for the message file shows what happened to it after the queue let it go: an
    /// all-delivered attempt appends nothing (no last state write) and the message leaves the queue.
    @Test func aDeliveredMessageLeavesWithoutAStateWrite() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let witness = fixture.root + "/witness"
        #expect(link(fixture.messagePath(id), witness) == 0)
        let size = fileBytes(witness).count
        let done = try fixture.store.record(id, results: [0: .delivered("250 ok"), 1: .delivered("250 ok")])
        #expect(done.state.isFinished)
        #expect(fileBytes(witness).count == size)
        #expect(fixture.entries("messages").isEmpty)
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.logs.events("queue.done").first?["queue"] == id.rawValue)
    }

    /// The control: an attempt that leaves the message queued appends its state to the same file.
    @Test func anUnfinishedAttemptAppendsItsState() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let witness = fixture.root + "/witness"
        #expect(link(fixture.messagePath(id), witness) == 0)
        let size = fileBytes(witness).count
        try fixture.store.record(id, results: [0: .delivered("250 ok")])
        #expect(fileBytes(witness).count > size)
        #expect(fixture.entries("messages") == [id.rawValue])
    }

    /// A crash in the middle of an append leaves part of a state record at the end: the previous state
    /// counts (at least once, never lost), and the next update cuts the torn bytes off before appending.
    @Test(arguments: [3, 20, 60])
    func aTornStateAppendFallsBackToThePreviousState(cut: Int) throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let file = fixture.messagePath(id)
        let committed = fileBytes(file)
        try fixture.store.record(id, results: [0: .delivered("250 ok")])
        let whole = fileBytes(file)
        writeBytes(Array(whole.dropLast(cut)), to: file)
        let fallen = try fixture.store.load(id)
        #expect(fallen.state == QueueMessageState(recipientCount: 2, dueAt: fixture.clock.now()))
        #expect(fixture.entries("corrupt").isEmpty)
        // The torn tail is cut off, the new state appended where it began.
        try fixture.store.record(id, results: [1: .delivered("250 ok")])
        let after = fileBytes(file)
        #expect(after.prefix(committed.count) == committed[...])
        #expect(after.count == whole.count)
        let message = try fixture.store.load(id)
        #expect(message.state.recipients.map(\.attempts) == [0, 1])
    }

    /// States appended for days would grow the file without end: past 64 KiB (and four states) of them the
    /// file is rewritten with the last state only — a new file under the same name, the body unchanged.
    @Test func longStateLogsAreCompacted() throws {
        let fixture = try QueueFixture()
        let body = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 % 253) }
        let id = try fixture.commit(body, recipients: 300)
        let file = fixture.messagePath(id)
        let committed = fileBytes(file)
        let bodyEnd = QueueCorruptionTests.bodyEnd(committed)
        let oneState = QueueMessageFile.encodeState(try fixture.store.load(id).state).count
        #expect(40 * oneState > 4 * (64 << 10))  // forty states appended would pass the bound four times over
        for round in 0..<40 {
            try fixture.store.record(id, results: [round % 300: .temporaryFailure(EnhancedStatusCode(4, 4, 1), "451 round \(round)", nextAttempt: MailTime(seconds: 1_700_000_600))])
            #expect(fileBytes(file).count - bodyEnd <= 64 << 10)
        }
        #expect(fileBytes(file).prefix(bodyEnd) == committed.prefix(bodyEnd))
        let message = try fixture.store.load(id)
        #expect(message.state.recipients.prefix(40).allSatisfy { $0.attempts == 1 })
        #expect(message.state.recipients[39].status.reply == "451 round 39")
        #expect(try fixture.store.openBody(id).readAll() == body)
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.entries("messages") == [id.rawValue])
    }

    /// Garbage after the last state (a torn append that wrote a wild length) is ignored the same way.
    @Test func garbageAfterTheLastStateIsIgnored() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        try fixture.store.hold(id)
        let file = fixture.messagePath(id)
        writeBytes(fileBytes(file) + [UInt8(ascii: "U"), 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3], to: file)
        #expect(try fixture.store.load(id).state.isHeld)
        #expect(fixture.entries("corrupt").isEmpty)
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

    /// A message queued in the layout before issue 14 (messages/ID/ with `body` and `state`): converted
    /// when the store opens, under a new id, with its state, body and envelope; then it delivers as any other.
    @Test func anOldLayoutMessageIsConvertedAndDelivers() throws {
        let fixture = try QueueFixture()
        let oldID = QueueID("65a0b1c2" + "00000000000000aa")!
        let body = Array("Subject: old\r\n\r\nqueued before issue 14\r\n".utf8)
        var state = QueueMessageState(recipientCount: 2, dueAt: fixture.clock.now())
        state.recipients[0].status = .temporaryFailure(EnhancedStatusCode(4, 2, 1), "451 later")
        state.recipients[0].attempts = 1
        Self.writeOldLayout(fixture.messagePath(oldID), envelope: fixture.envelope(), body: body, state: state)
        let reopened = try QueueStore(path: fixture.queuePath, clock: fixture.clock, random: fixture.random, logSink: fixture.logs)
        let converted = fixture.logs.events("queue.converted")
        #expect(converted.count == 1)
        #expect(converted.first?["old_queue"] == oldID.rawValue)
        let messages = try reopened.scan(verifyBodies: true)
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        #expect(message.id.rawValue == converted.first?["queue"])
        #expect(message.state == state)
        #expect(message.envelope.recipients == fixture.envelope().recipients)
        #expect(message.envelope.messageSize == body.count)
        #expect(message.envelope.hasEightBitOctets == nil)  // not recorded then: delivery scans the body
        #expect(try reopened.openBody(message.id).readAll() == body)
        #expect(QueueFiles.isRegularFile(fixture.messagePath(message.id)))
        #expect(fixture.entries("messages") == [message.id.rawValue])
        #expect(fixture.entries("tmp").isEmpty)
        try reopened.record(message.id, results: [0: .delivered("250 ok"), 1: .delivered("250 ok")])
        #expect(try reopened.scan().isEmpty)
    }

    /// An old-layout message restored from a backup while the store is open: the next scan converts it.
    @Test func anOldLayoutMessageRestoredLaterIsConvertedByAScan() throws {
        let fixture = try QueueFixture()
        let oldID = QueueID("65a0b1c2" + "00000000000000cc")!
        Self.writeOldLayout(fixture.messagePath(oldID), envelope: fixture.envelope(), body: Array("hi\r\n".utf8),
                            state: QueueMessageState(recipientCount: 2, dueAt: fixture.clock.now()))
        _ = try fixture.store.scan()
        let messages = try fixture.store.scan()
        #expect(messages.count == 1)
        #expect(messages.first?.id != oldID)
        #expect(try fixture.store.openBody(try #require(messages.first?.id)).readAll() == Array("hi\r\n".utf8))
        #expect(fixture.entries("corrupt").isEmpty)
    }

    /// A state written by the first step of issue 14 (old layout, 8-bit flag in the state's `M` record)
    /// keeps its flag through the conversion.
    @Test(arguments: [true, false])
    func anOldLayoutEightBitFlagSurvivesTheConversion(eightBit: Bool) throws {
        let fixture = try QueueFixture()
        let oldID = QueueID("65a0b1c2" + "00000000000000dd")!
        Self.writeOldLayout(fixture.messagePath(oldID), envelope: fixture.envelope(), body: eightBit ? [0xC3, 0xBC] : [0x41],
                            state: QueueMessageState(recipientCount: 2, dueAt: fixture.clock.now()), eightBit: eightBit)
        let reopened = try QueueStore(path: fixture.queuePath, clock: fixture.clock, random: fixture.random, logSink: fixture.logs)
        #expect(try reopened.scan().first?.envelope.hasEightBitOctets == eightBit)
    }

    /// An old-layout message that fails validation goes to corrupt/ (logged), as a scan would have done.
    @Test func aDamagedOldLayoutMessageGoesToCorrupt() throws {
        let fixture = try QueueFixture()
        let oldID = QueueID("65a0b1c2" + "00000000000000bb")!
        let directory = fixture.messagePath(oldID, .failed)
        Self.writeOldLayout(directory, envelope: fixture.envelope(), body: [1, 2, 3], state: QueueMessageState(recipientCount: 5, dueAt: fixture.clock.now()))
        _ = try QueueStore(path: fixture.queuePath, clock: fixture.clock, random: fixture.random, logSink: fixture.logs)
        #expect(fixture.entries("corrupt") == [oldID.rawValue])
        #expect(fixture.entries("failed").isEmpty)
        #expect(fixture.logs.events("queue.corrupt").first?["queue"] == oldID.rawValue)
    }

    /// Writes a message directory as releases before issue 14 did: `body` (header, envelope, `D`, `Z`), `state`.
    static func writeOldLayout(
        _ directory: String, envelope: QueueEnvelope, body: [UInt8], state: QueueMessageState, eightBit: Bool? = nil
    ) {
        #expect(mkdir(directory, 0o700) == 0)
        var bytes = QueueBodyFormat.encodeHead(envelope)
        if !body.isEmpty { QueueRecordFraming.append(type: QueueRecordFraming.RecordType.data, payload: body, to: &bytes) }
        bytes += QueueBodyFormat.encodeEnd(.init(bodySize: body.count, dataRecords: body.isEmpty ? 0 : 1, bodyChecksum: CRC32.checksum(body)))
        writeBytes(bytes, to: directory + "/body")
        writeBytes(QueueStateFormat.encode(state, bodyHasEightBitOctets: eightBit), to: directory + "/state")
    }
}
