// QueueCorruptionTests: damaged files go to corrupt/ with a log line, never silently dropped; torn drafts
// in tmp/ are ignored and cleaned (but a live draft is not); random bytes give the decoders typed errors.

import Foundation
import Testing
import PostOfficeCore
@testable import PostOfficeQueue

@Suite struct QueueCorruptionTests {
    enum Damage: String, CaseIterable, Sendable {
        case truncateState, garbleState, emptyState, stateForOtherRecipientCount, stateOfAnotherKind
        case truncateBody, truncateBodyHead, garbleBodyMagic, garbleHead, garbleEnvelope, garbleEndMarker, insertIntoBody, emptyFile
    }

    /// Where the body ends (the first state record starts), from the file's `H` record.
    static func bodyEnd(_ bytes: [UInt8]) -> Int {
        Int(bytes[(QueueMessageFile.headOffset + 5)..<(QueueMessageFile.headOffset + 13)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    func damage(_ damage: Damage, _ file: String, fixture: QueueFixture) {
        var bytes = fileBytes(file)
        let end = Self.bodyEnd(bytes)
        switch damage {
        case .truncateState:
            bytes = Array(bytes.dropLast(3))
        case .garbleState:
            bytes[end + (bytes.count - end) / 2] ^= 0x40
        case .emptyState:
            bytes = Array(bytes.prefix(end))
        case .stateForOtherRecipientCount:
            bytes = Array(bytes.prefix(end)) + QueueMessageFile.encodeState(QueueMessageState(recipientCount: 5, dueAt: MailTime(seconds: 0)))
        case .stateOfAnotherKind:
            var record: [UInt8] = []
            QueueRecordFraming.append(type: QueueRecordFraming.RecordType.data, payload: [1, 2, 3], to: &record)
            bytes += record
        case .truncateBody:
            bytes = Array(bytes.prefix(end - 1))
        case .truncateBodyHead:
            bytes = Array(bytes.prefix(20))
        case .garbleBodyMagic:
            bytes[0] = UInt8(ascii: "X")
        case .garbleHead:
            bytes[QueueMessageFile.headOffset + 7] ^= 0x01
        case .garbleEnvelope:
            bytes[QueueMessageFile.envelopeOffset + 7] ^= 0x01
        case .garbleEndMarker:
            bytes[end - 6] ^= 0xFF
        case .insertIntoBody:
            bytes.insert(0, at: end - QueueBodyFormat.endRecordSize)
        case .emptyFile:
            bytes = []
        }
        writeBytes(bytes, to: file)
    }

    @Test(arguments: Damage.allCases)
    func damagedMessageMovesToCorruptWithALogLine(_ kind: Damage) throws {
        let fixture = try QueueFixture()
        let good = try fixture.commit()
        let bad = try fixture.commit()
        damage(kind, fixture.messagePath(bad), fixture: fixture)
        let listed = try fixture.store.scan()
        #expect(listed.map(\.id) == [good])
        #expect(fixture.entries("corrupt") == [bad.rawValue])
        #expect(fixture.entries("messages") == [good.rawValue])
        let logged = fixture.logs.events("queue.corrupt")
        #expect(logged.count == 1)
        #expect(logged.first?["queue"] == bad.rawValue)
        #expect(logged.first?["moved_to"] == fixture.queuePath + "/corrupt/" + bad.rawValue)
        #expect(logged.first?.level == .error)
        // The evidence is kept as found.
        #expect(QueueFiles.isRegularFile(fixture.queuePath + "/corrupt/" + bad.rawValue))
        #expect(throws: QueueError.notFound(bad)) { try fixture.store.load(bad) }
    }

    @Test func loadOfADamagedStateReportsCorrupt() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        damage(.garbleState, fixture.messagePath(id), fixture: fixture)
        #expect(throws: QueueError.corrupt(id, file: "state", .checksumMismatch(recordType: UInt8(ascii: "U")))) {
            try fixture.store.load(id)
        }
        #expect(fixture.entries("corrupt") == [id.rawValue])
    }

    /// A flipped byte inside the data records passes the cheap head-and-tail check; reading (or a
    /// verifying scan) catches it and moves the message aside.
    @Test func garbledBodyDataIsCaughtWhenRead() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit(Array(repeating: UInt8(ascii: "x"), count: 100_000))
        let body = fixture.messagePath(id)
        var bytes = fileBytes(body)
        bytes[bytes.count - 5_000] ^= 0x20
        writeBytes(bytes, to: body)
        #expect(try fixture.store.scan().map(\.id) == [id])
        #expect(try fixture.store.scan(verifyBodies: true).isEmpty)
        #expect(fixture.entries("corrupt") == [id.rawValue])
        #expect(fixture.logs.events("queue.corrupt").first?["reason"] == "checksum mismatch in record D")
    }

    @Test func strayEntriesAreMovedAside() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        writeBytes(Array("junk".utf8), to: fixture.queuePath + "/messages/notes.txt")
        #expect(try fixture.store.scan().map(\.id) == [id])
        #expect(fixture.entries("corrupt") == ["notes.txt"])
        #expect(fixture.logs.events("queue.corrupt").count == 1)
    }

    /// A symbolic link planted in messages/ is not followed: it is moved aside like any stray entry.
    @Test func symbolicLinkInTheQueueIsNotFollowed() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let other = "0000000000000000000000aa"
        #expect(symlink(fixture.messagePath(id), fixture.queuePath + "/messages/" + other) == 0)
        #expect(try fixture.store.scan().map(\.id) == [id])
        #expect(fixture.entries("corrupt") == [other])
        #expect(throws: QueueError.notFound(QueueID(other)!)) { try fixture.store.load(QueueID(other)!) }
    }

    /// A crash mid-draft leaves tmp/ID with a partial body (or an old-layout draft directory, or a stray
    /// file): never listed,
    /// removed by the next scan, logged.
    @Test func tornTemporaryFilesAreIgnoredAndCleaned() throws {
        let fixture = try QueueFixture()
        let id = try fixture.commit()
        let torn = fixture.queuePath + "/tmp/0000000000000000abc"
        try FileManager.default.createDirectory(atPath: torn, withIntermediateDirectories: false)
        let whole = fileBytes(fixture.messagePath(id))
        writeBytes(Array(whole.prefix(whole.count / 2)), to: torn + "/body")
        writeBytes(Array("half".utf8), to: fixture.queuePath + "/tmp/stray")
        #expect(try fixture.store.scan().map(\.id) == [id])
        #expect(fixture.entries("tmp").isEmpty)
        #expect(fixture.entries("corrupt").isEmpty)
        #expect(fixture.logs.events("queue.tmp_removed").count == 2)
        // Reopening the store (as a restarted server would) also sweeps.
        try FileManager.default.createDirectory(atPath: torn, withIntermediateDirectories: false)
        _ = try QueueStore(path: fixture.queuePath, clock: fixture.clock, random: fixture.random, logSink: fixture.logs)
        #expect(fixture.entries("tmp").isEmpty)
    }

    /// A draft in progress (in this or another process) holds its lock, so a sweep leaves it alone.
    @Test func liveDraftSurvivesASweep() throws {
        let fixture = try QueueFixture()
        let draft = try fixture.store.begin(fixture.envelope())
        try draft.append(Array("hello".utf8))
        try fixture.store.sweepTemporaryFiles()
        #expect(fixture.entries("tmp") == [draft.id.rawValue])
        let id = try draft.commit()
        #expect(try fixture.store.openBody(id).readAll() == Array("hello".utf8))
    }
}

/// Random and mutated bytes into every decoder: never a crash, always a typed error or a value.
@Suite struct QueueRecordFuzzTests {
    static func validState() -> [UInt8] {
        var state = QueueMessageState(recipientCount: 3, dueAt: MailTime(seconds: 1_700_000_000))
        state.recipients[1].status = .temporaryFailure(EnhancedStatusCode(4, 4, 1), "later")
        state.recipients[2].status = .permanentFailure(EnhancedStatusCode(5, 1, 1), "no")
        return QueueStateFormat.encode(state)
    }

    static func validBodyHead() -> [UInt8] {
        let envelope = QueueEnvelope(
            reversePath: MailAddress("a@b.example"), arrival: MailTime(seconds: 5),
            recipients: [QueueRecipient(MailAddress("c@d.example")!, originalRecipient: "rfc822;c@d.example", notify: "NEVER")])
        return QueueBodyFormat.encodeHead(envelope) + QueueBodyFormat.encodeEnd(.init(bodySize: 0, dataRecords: 0, bodyChecksum: 0))
    }

    /// Decodes a body head and end marker from memory, as scan does from disk.
    static func decodeBody(_ bytes: [UInt8]) throws(QueueRecordError) {
        var reader = try QueueRecordReader(bytes, magic: QueueRecordFraming.bodyMagic)
        var (envelope, count) = try QueueBodyFormat.decodeEnvelope(try reader.next())
        while envelope.recipients.count < count { envelope.recipients.append(try QueueBodyFormat.decodeRecipient(try reader.next())) }
        _ = try QueueBodyFormat.decodeEnd(try reader.next())
        guard reader.isAtEnd else { throw .trailingBytes }
    }

    @Test func validFilesDecode() throws {
        _ = try QueueStateFormat.decode(Self.validState())
        try Self.decodeBody(Self.validBodyHead())
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func randomBytesGiveTypedErrors(seed: UInt64) {
        let random = SeededRandomSource(seed: seed)
        for round in 0..<2_000 {
            let length = Int(random.next() % 300)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            // Half the inputs start with a valid header, so the record layer is reached.
            if round % 2 == 0 { bytes = QueueRecordFraming.fileHeader(magic: round % 4 == 0 ? QueueRecordFraming.stateMagic : QueueRecordFraming.bodyMagic) + bytes }
            #expect(throws: QueueRecordError.self) { _ = try QueueStateFormat.decode(bytes) }
            #expect(throws: QueueRecordError.self) { try Self.decodeBody(bytes) }
        }
    }

    /// Single-byte mutations and truncations of valid files: a CRC catches every one.
    @Test func everyMutationOfAValidFileIsDetected() {
        for valid in [Self.validState(), Self.validBodyHead()] {
            let isState = valid.starts(with: QueueRecordFraming.stateMagic)
            func decode(_ bytes: [UInt8]) throws(QueueRecordError) {
                if isState { _ = try QueueStateFormat.decode(bytes) } else { try Self.decodeBody(bytes) }
            }
            for index in valid.indices {
                for flip: UInt8 in [0x01, 0x80, 0xFF] {
                    var bytes = valid
                    bytes[index] ^= flip
                    #expect(throws: QueueRecordError.self) { try decode(bytes) }
                }
                #expect(throws: QueueRecordError.self) { try decode(Array(valid.prefix(index))) }
            }
        }
    }

    @Test(arguments: [("", UInt32(0)), ("a", 0xE8B7_BE43), ("123456789", 0xCBF4_3926), ("The quick brown fox jumps over the lazy dog", 0x414F_A339)])
    func crc32KnownValues(text: String, expected: UInt32) {
        #expect(CRC32.checksum(Array(text.utf8)) == expected)
        // Fed in pieces, the same.
        var crc = CRC32()
        for byte in text.utf8 { crc.update([byte]) }
        #expect(crc.value == expected)
    }
}
