// QueueReportFlagsTests: the optional flags reports need — an envelope's double-bounce and 8-bit marks, a
// message's delay warning, a recipient's "reported" — survive the disk, cost nothing when unset (files
// stay as earlier releases wrote them), and markReported works on a message in failed/.

import Foundation
import PostOfficeCore
import Testing
@testable import PostOfficeQueue

@Suite struct QueueReportFlagsTests {
    @Test func envelopeFlagsRoundTrip() throws {
        let fixture = try QueueFixture()
        var envelope = fixture.envelope(recipients: 1, from: nil)
        envelope.isDoubleBounce = true
        envelope.is8Bit = true
        let draft = try fixture.store.begin(envelope)
        try draft.append(Array("x\r\n".utf8))
        let id = try draft.commit()
        let loaded = try fixture.store.load(id)
        #expect(loaded.envelope.isDoubleBounce)
        #expect(loaded.envelope.is8Bit)
        let plain = try fixture.store.load(try fixture.commit())
        #expect(!plain.envelope.isDoubleBounce)
        #expect(!plain.envelope.is8Bit)
    }

    @Test func unsetFlagsWriteNoBytes() {
        let envelope = QueueEnvelope(
            reversePath: MailAddress("a@b.example"), arrival: MailTime(seconds: 5),
            recipients: [QueueRecipient(MailAddress("c@d.example")!)])
        var flagged = envelope
        flagged.is8Bit = true
        #expect(QueueBodyFormat.encodeHead(flagged).count == QueueBodyFormat.encodeHead(envelope).count + 1)
        let state = QueueMessageState(recipientCount: 2, dueAt: MailTime(seconds: 5))
        var marked = state
        marked.isDelayWarned = true
        marked.recipients[1].isReported = true
        #expect(QueueStateFormat.encode(marked).count == QueueStateFormat.encode(state).count + 2)
    }

    @Test func filesInTheEarlierLayoutDecodeAsUnset() throws {
        // A state file as written before the flags existed, built field by field.
        var bytes = QueueRecordFraming.fileHeader(magic: QueueRecordFraming.stateMagic)
        var m = QueuePayloadWriter()
        m.bool(false)
        m.u32(1)
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.message, payload: m.bytes, to: &bytes)
        var r = QueuePayloadWriter()
        r.u8(3)
        r.statusCode(EnhancedStatusCode(5, 1, 1))
        r.string("no")
        r.int(1)
        r.time(MailTime(seconds: 7))
        r.optionalTime(nil)
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.recipientState, payload: r.bytes, to: &bytes)
        var z = QueuePayloadWriter()
        z.u32(1)
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.end, payload: z.bytes, to: &bytes)
        let state = try QueueStateFormat.decode(bytes)
        #expect(!state.isDelayWarned)
        #expect(state.recipients.count == 1 && !state.recipients[0].isReported)

        // An envelope record as written before: ends with the recipient count.
        var e = QueuePayloadWriter()
        e.bool(false)
        e.time(MailTime(seconds: 5))
        e.bool(true)
        e.optionalString(nil)
        e.optionalString(nil)
        e.u32(0)
        var record: [UInt8] = []
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.envelope, payload: e.bytes, to: &record)
        var reader = QueueRecordReader(records: record)
        let (envelope, count) = try QueueBodyFormat.decodeEnvelope(try reader.next())
        #expect(count == 0 && envelope.isLocalSender && !envelope.isDoubleBounce && !envelope.is8Bit)
    }

    @Test func stateFlagsRoundTrip() throws {
        var state = QueueMessageState(recipientCount: 3, dueAt: MailTime(seconds: 9))
        state.isDelayWarned = true
        state.recipients[2].isReported = true
        state.recipients[2].status = .permanentFailure(EnhancedStatusCode(5, 1, 1), "gone")
        #expect(try QueueStateFormat.decode(QueueStateFormat.encode(state)) == state)
    }

    @Test func unknownEnvelopeFlagsAreRefused() throws {
        let envelope = QueueEnvelope(reversePath: nil, arrival: MailTime(seconds: 5), recipients: [], isDoubleBounce: true)
        var bytes = QueueBodyFormat.encodeHead(envelope)
        // The flags byte is the E payload's last byte, before the 4-byte CRC; set an unknown bit and re-frame.
        var reader = try QueueRecordReader(bytes, magic: QueueRecordFraming.bodyMagic)
        var payload = try reader.next().payload
        payload[payload.count - 1] |= 0x80
        bytes = QueueRecordFraming.fileHeader(magic: QueueRecordFraming.bodyMagic)
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.envelope, payload: payload, to: &bytes)
        var again = try QueueRecordReader(bytes, magic: QueueRecordFraming.bodyMagic)
        let record = try again.next()
        #expect(throws: QueueRecordError.self) { _ = try QueueBodyFormat.decodeEnvelope(record) }
    }

    @Test func markReportedWorksInFailed() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit(recipients: 2)
        let failed = try fixture.store.record(id, results: [
            0: .permanentFailure(EnhancedStatusCode(5, 1, 1), "gone"), 1: .delivered("250 ok"),
        ])
        #expect(failed.location == .failed)
        let marked = try fixture.store.markReported(id, recipients: [0], delayWarned: true)
        #expect(marked.location == .failed)
        let loaded = try fixture.store.load(id)
        #expect(loaded.state.recipients[0].isReported)
        #expect(!loaded.state.recipients[1].isReported)
        #expect(loaded.state.isDelayWarned)
        #expect(throws: QueueError.self) { try fixture.store.markReported(id, recipients: [5]) }
    }

    /// The host an attempt talked to survives the disk with or without the reported flag, and a state
    /// without it decodes as before.
    @Test(arguments: [false, true])
    func remoteHostRoundTrips(reported: Bool) throws {
        var state = QueueMessageState(recipientCount: 2, dueAt: MailTime(seconds: 5))
        state.recipients[0].remoteHost = "mx.example.net"
        state.recipients[0].isReported = reported
        let decoded = try QueueStateFormat.decode(QueueStateFormat.encode(state))
        #expect(decoded.recipients[0].remoteHost == "mx.example.net")
        #expect(decoded.recipients[0].isReported == reported)
        #expect(decoded.recipients[1].remoteHost == nil)
        #expect(decoded == state)
    }

    @Test func recordKeepsTheHostOfTheAttempt() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let recorded = try fixture.store.record(
            id, results: [0: .temporaryFailure(EnhancedStatusCode(4, 2, 0), "mx.example.net: 451 later", nextAttempt: MailTime(seconds: 99))],
            remoteHost: "mx.example.net")
        #expect(recorded.state.recipients[0].remoteHost == "mx.example.net")
        #expect(try fixture.store.load(id).state.recipients[0].remoteHost == "mx.example.net")
    }


    @Test func deliveredLocallyRoundTripsAndCostsNothingUnset() throws {
        let fixture = try QueueFixture()
        var envelope = fixture.envelope(recipients: 2, from: "alice@example.org")
        envelope.recipients[1].isDeliveredLocally = true
        let draft = try fixture.store.begin(envelope)
        try draft.append(Array("x\r\n".utf8))
        let loaded = try fixture.store.load(try draft.commit())
        #expect(loaded.envelope.recipients.map(\.isDeliveredLocally) == [false, true])
        var plain = envelope
        plain.recipients[1].isDeliveredLocally = false
        #expect(QueueBodyFormat.encodeHead(envelope).count == QueueBodyFormat.encodeHead(plain).count + 1)
    }

}
