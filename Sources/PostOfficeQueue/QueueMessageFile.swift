// QueueMessageFile: the one file a queued message is — `POQF` header, `H` (where the body ends, whether it
// has 8-bit octets), the envelope (`E`, `R`…), the body (`D`…, end marker `Z`), then one `U` record per
// state, appended on every update. A reader takes the last whole, valid `U`: a torn append falls back.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Encoding and checks of message files.
enum QueueMessageFile {
    /// `H` payload: body end (8 bytes), body octets (1 byte: 0 not known, 1 7-bit only, 2 some 8-bit).
    static let headPayloadSize = 9
    static let headRecordSize = QueueRecordFraming.recordOverhead + headPayloadSize
    /// Where the `H` record sits; the envelope follows it.
    static let headOffset = QueueRecordFraming.fileHeaderSize
    static let envelopeOffset = headOffset + headRecordSize
    /// More state than this after the body is not something we wrote (a state is a few hundred bytes per
    /// recipient, and one is appended per attempt).
    static let stateLogLimit = 64 << 20
    /// How much of a message file a load reads at once: all of a small message (header, envelope, body, end
    /// marker and states in one read instead of one or two per record), the head of a larger one.
    static let windowSize = 16 << 10

    /// The `H` record. Written as a placeholder when the draft starts and rewritten in place at commit,
    /// before the file's one fsync, once the body's end is known.
    static func encodeHead(bodyEnd: Int, hasEightBitOctets: Bool?) -> [UInt8] {
        var h = QueuePayloadWriter()
        h.int(bodyEnd)
        h.u8(hasEightBitOctets.map { $0 ? 2 : 1 } ?? 0)
        var out: [UInt8] = []
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.head, payload: h.bytes, to: &out)
        return out
    }

    /// Everything before the first body byte: file header, a placeholder `H`, the envelope records.
    static func encodeStart(_ envelope: QueueEnvelope) -> [UInt8] {
        QueueRecordFraming.fileHeader(magic: QueueRecordFraming.messageMagic)
            + encodeHead(bodyEnd: 0, hasEightBitOctets: nil) + QueueBodyFormat.encodeEnvelope(envelope)
    }

    /// One appended state: a `U` record whose payload is a whole state (see ``QueueStateFormat``).
    static func encodeState(_ state: QueueMessageState) -> [UInt8] {
        var out: [UInt8] = []
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.stateUpdate, payload: QueueStateFormat.encode(state), to: &out)
        return out
    }

    /// What the head of a message file says, checked against its body.
    struct Layout {
        var body: QueueBodyFormat.Layout
        /// The offset just after the end marker: the first state record.
        var bodyEnd: Int
    }

    /// Reads and checks the file header, `H`, the envelope and the end marker (constant work: the body
    /// data is checked by ``QueueBodyReader`` as it is read).
    /// `size`: the file's size when the caller has it (one fstat per read, not one per part).
    /// `window`: the file's first bytes, read once by the caller (see ``windowSize``).
    static func readLayout(
        _ descriptor: Int32, path: String, size known: Int? = nil, window: [UInt8]? = nil
    ) throws(QueueError) -> Result<Layout, QueueRecordError> {
        let header: [UInt8]
        if let window, window.count >= envelopeOffset || window.count == known {
            header = Array(window.prefix(envelopeOffset))
        } else {
            header = try QueueFiles.read(descriptor, count: envelopeOffset, at: 0, path: path)
        }
        var bodyEnd = 0
        var octets: UInt8 = 0
        do throws(QueueRecordError) {
            try QueueRecordFraming.checkFileHeader(header.prefix(QueueRecordFraming.fileHeaderSize), magic: QueueRecordFraming.messageMagic)
            var reader = QueueRecordReader(records: Array(header.dropFirst(headOffset)))
            var h = QueuePayloadReader(try reader.next(expecting: QueueRecordFraming.RecordType.head).payload)
            bodyEnd = try h.count("body end")
            octets = try h.u8("body octets")
            try h.finish()
            guard octets <= 2 else { throw .malformedField("body octets") }
        } catch {
            return .failure(error)
        }
        let size: Int
        if let known { size = known } else { size = try QueueFiles.size(descriptor, path: path) }
        guard bodyEnd <= size else { return .failure(.truncated) }
        let envelope: QueueEnvelope
        let dataStart: Int
        switch try QueueBodyFormat.readEnvelope(descriptor, at: envelopeOffset, path: path, window: window) {
        case .failure(let error): return .failure(error)
        case .success(let value): (envelope, dataStart) = value
        }
        switch try QueueBodyFormat.readTrailer(
            descriptor, envelope: envelope, dataStart: dataStart, bodyEnd: bodyEnd, path: path, window: window) {
        case .failure(let error): return .failure(error)
        case .success(var body):
            body.envelope.hasEightBitOctets = octets == 0 ? nil : octets == 2
            return .success(Layout(body: body, bodyEnd: bodyEnd))
        }
    }

    /// The states after the body: the last whole, valid `U` record wins, and the offset after it is where
    /// the next one goes. A record cut short or failing its CRC at the end is a torn append (a crash
    /// mid-write): ignored, so the previous state counts. A whole record that does not decode, or no state
    /// at all, is damage.
    static func readState(
        _ descriptor: Int32, from bodyEnd: Int, path: String, size known: Int? = nil, window: [UInt8]? = nil
    ) throws(QueueError) -> Result<(QueueMessageState, end: Int), QueueRecordError> {
        let size: Int
        if let known { size = known } else { size = try QueueFiles.size(descriptor, path: path) }
        guard size - bodyEnd <= stateLogLimit else { return .failure(.payloadTooLong(size - bodyEnd)) }
        let bytes: [UInt8]
        if let window, bodyEnd >= 0, bodyEnd <= size, size <= window.count {
            bytes = Array(window[bodyEnd..<size])
        } else {
            bytes = try QueueFiles.read(descriptor, count: size - bodyEnd, at: bodyEnd, path: path)
        }
        var reader = QueueRecordReader(records: bytes)
        reader.payloadLimit = QueueStateFormat.sizeLimit
        var last: QueueMessageState?
        var end = bodyEnd
        var tear: QueueRecordError = .truncated
        while !reader.isAtEnd {
            let record: QueueRecord
            do {
                record = try reader.next()
            } catch {
                tear = error
                break  // torn append: what came before stands
            }
            do throws(QueueRecordError) {
                guard record.type == QueueRecordFraming.RecordType.stateUpdate else { throw .unexpectedRecord(record.type) }
                last = try QueueStateFormat.decode(record.payload)
            } catch {
                return .failure(error)
            }
            end = bodyEnd + reader.position
        }
        guard let last else { return .failure(tear) }
        return .success((last, end))
    }

    /// True when the states after the body (`stateLog` bytes) plus one more record (`adding` bytes) would
    /// pass both 64 KiB and four states' worth: then the file is rewritten with the last state only
    /// (a message retried for days to many domains would otherwise grow its file, and every read, without end).
    static func needsCompaction(stateLog: Int, adding record: Int) -> Bool {
        stateLog + record > max(64 << 10, 4 * record)
    }

    /// Appends the encoded state `record` at `end` (the offset after the last valid state), first cutting
    /// off a torn append there, and fsyncs the file. The caller holds the message lock; the file's name
    /// does not change, so no directory fsync is needed.
    static func appendState(_ record: [UInt8], to descriptor: Int32, at end: Int, path: String) throws(QueueError) {
        if try QueueFiles.size(descriptor, path: path) != end {
            _ = try QueueFiles.call("ftruncate", path) { ftruncate(descriptor, off_t(end)) }
        }
        try QueueFiles.writeAll(descriptor, record, at: end, path: path)
        try QueueFiles.sync(descriptor, path: path)
    }
}
