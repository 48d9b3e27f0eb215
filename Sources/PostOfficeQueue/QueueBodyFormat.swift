// QueueBodyFormat: the envelope (`E` with optional trailing flags, then one `R` per recipient), the message
// bytes as `D` records of at most 64 KiB, and the end marker `Z` (body size, data record count, CRC-32 of all
// body bytes) — inside a message file (QueueMessageFile), or the whole body file `messages/ID/body` of the
// layout before issue 14 (read for conversion). Written once, never rewritten; scan checks head and tail.

import PostOfficeCore

/// Encoding and structural checks of body files.
enum QueueBodyFormat {
    /// The end record is fixed-size, so a reader finds it at the end of the file without scanning.
    static let endPayloadSize = 20
    static let endRecordSize = QueueRecordFraming.recordOverhead + endPayloadSize

    /// What the end marker says about the body.
    struct Trailer: Hashable {
        var bodySize: Int
        var dataRecords: Int
        var bodyChecksum: UInt32
    }

    /// The file header and envelope records, written before the first body byte.
    static func encodeHead(_ envelope: QueueEnvelope) -> [UInt8] {
        QueueRecordFraming.fileHeader(magic: QueueRecordFraming.bodyMagic) + encodeEnvelope(envelope)
    }

    /// The `E` record and one `R` per recipient.
    static func encodeEnvelope(_ envelope: QueueEnvelope) -> [UInt8] {
        var out: [UInt8] = []
        var e = QueuePayloadWriter()
        e.bool(envelope.reversePath != nil)
        if let path = envelope.reversePath {
            e.string(path.localPart)
            e.string(path.domain)
        }
        e.time(envelope.arrival)
        e.bool(envelope.isLocalSender)
        e.optionalString(envelope.envelopeID)
        e.optionalString(envelope.returnContent)
        e.u32(UInt32(envelope.recipients.count))
        // Added after version 1 shipped: written only when a flag is set, so every other file is byte for
        // byte what earlier releases wrote and read (they refuse the extra byte; see decodeEnvelope).
        let flags = envelopeFlags(envelope)
        if flags != 0 { e.u8(flags) }
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.envelope, payload: e.bytes, to: &out)
        for recipient in envelope.recipients {
            var r = QueuePayloadWriter()
            r.string(recipient.address.localPart)
            r.string(recipient.address.domain)
            r.optionalString(recipient.originalRecipient)
            r.optionalString(recipient.notify)
            // Optional trailing flag: written only when set, so other recipients read as before.
            if recipient.isDeliveredLocally { r.bool(true) }
            QueueRecordFraming.append(type: QueueRecordFraming.RecordType.recipient, payload: r.bytes, to: &out)
        }
        return out
    }

    static func encodeEnd(_ trailer: Trailer) -> [UInt8] {
        var z = QueuePayloadWriter()
        z.int(trailer.bodySize)
        z.int(trailer.dataRecords)
        z.u32(trailer.bodyChecksum)
        var out: [UInt8] = []
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.end, payload: z.bytes, to: &out)
        return out
    }

    /// Decodes the `E` record: the envelope without recipients, and how many `R` records follow.
    static func decodeEnvelope(_ record: QueueRecord) throws(QueueRecordError) -> (QueueEnvelope, recipientCount: Int) {
        guard record.type == QueueRecordFraming.RecordType.envelope else { throw .unexpectedRecord(record.type) }
        var e = QueuePayloadReader(record.payload)
        var reversePath: MailAddress?
        if try e.bool("reverse-path present") {
            let local = try e.string("reverse-path local part")
            let domain = try e.string("reverse-path domain")
            reversePath = MailAddress(localPart: local, domain: domain)
        }
        let arrival = try e.time("arrival")
        let isLocal = try e.bool("local sender")
        let envelopeID = try e.optionalString("envid")
        let ret = try e.optionalString("ret")
        let count = Int(try e.u32("recipient count"))
        // Optional trailing flags byte: absent in files written before it existed (all flags false).
        let flags = e.isAtEnd ? 0 : try e.u8("flags")
        guard flags & ~Flag.known == 0 else { throw .malformedField("flags") }
        try e.finish()
        let envelope = QueueEnvelope(
            reversePath: reversePath, arrival: arrival, recipients: [], envelopeID: envelopeID, returnContent: ret,
            isLocalSender: isLocal, isDoubleBounce: flags & Flag.doubleBounce != 0, is8Bit: flags & Flag.eightBit != 0)
        return (envelope, count)
    }

    /// Bits of the envelope's optional flags byte.
    enum Flag {
        static let doubleBounce: UInt8 = 1
        static let eightBit: UInt8 = 2
        static let known: UInt8 = doubleBounce | eightBit
    }

    static func envelopeFlags(_ envelope: QueueEnvelope) -> UInt8 {
        (envelope.isDoubleBounce ? Flag.doubleBounce : 0) | (envelope.is8Bit ? Flag.eightBit : 0)
    }

    /// Decodes one `R` record.
    static func decodeRecipient(_ record: QueueRecord) throws(QueueRecordError) -> QueueRecipient {
        guard record.type == QueueRecordFraming.RecordType.recipient else { throw .unexpectedRecord(record.type) }
        var r = QueuePayloadReader(record.payload)
        let local = try r.string("recipient local part")
        let domain = try r.string("recipient domain")
        let orcpt = try r.optionalString("orcpt")
        let notify = try r.optionalString("notify")
        let isDeliveredLocally = r.isAtEnd ? false : try r.bool("delivered locally")
        try r.finish()
        return QueueRecipient(
            MailAddress(localPart: local, domain: domain), originalRecipient: orcpt, notify: notify,
            isDeliveredLocally: isDeliveredLocally)
    }

    static func decodeEnd(_ record: QueueRecord) throws(QueueRecordError) -> Trailer {
        guard record.type == QueueRecordFraming.RecordType.end else { throw .unexpectedRecord(record.type) }
        var z = QueuePayloadReader(record.payload)
        let trailer = Trailer(
            bodySize: try z.count("body size"), dataRecords: try z.count("data records"), bodyChecksum: try z.u32("body crc"))
        try z.finish()
        return trailer
    }

    /// Reads one record at `offset` of an open file. Returns the record and the offset after it.
    /// `expected`: how many bytes to read at first (one read for a record that fits, instead of one for its
    /// head and one for the rest).
    /// `window`: the file's first bytes when the caller read them already; a record wholly inside is taken
    /// from there, without a read.
    static func readRecord(
        _ descriptor: Int32, at offset: Int, path: String, expected: Int = 4096, window: [UInt8]? = nil
    ) throws(QueueError) -> Result<(QueueRecord, Int), QueueRecordError> {
        if let window, offset >= 0, offset + 5 <= window.count {
            let length = Int(QueueRecordFraming.readBigEndian32(window[(offset + 1)...]))
            if length <= QueueRecordFraming.maximumPayload, offset + 5 + length + 4 <= window.count {
                var reader = QueueRecordReader(records: Array(window[offset..<offset + 5 + length + 4]))
                do {
                    return .success((try reader.next(), offset + 5 + length + 4))
                } catch {
                    return .failure(error)
                }
            }
        }
        var bytes = try QueueFiles.read(descriptor, count: max(5, expected), at: offset, path: path, stoppingShort: true)
        if bytes.count < 5, !bytes.isEmpty {
            bytes += try QueueFiles.read(descriptor, count: 5 - bytes.count, at: offset + bytes.count, path: path)
        }
        guard bytes.count >= 5 else { return .failure(.truncated) }
        let length = Int(QueueRecordFraming.readBigEndian32(bytes[1...]))
        guard length <= QueueRecordFraming.maximumPayload else { return .failure(.payloadTooLong(length)) }
        let total = 5 + length + 4
        if bytes.count < total {
            bytes += try QueueFiles.read(descriptor, count: total - bytes.count, at: offset + bytes.count, path: path)
        } else if bytes.count > total {
            bytes.removeLast(bytes.count - total)
        }
        var reader = QueueRecordReader(records: bytes)
        do {
            return .success((try reader.next(), offset + 5 + length + 4))
        } catch {
            return .failure(error)
        }
    }

    /// The parts of a body file scan needs, from its head and tail only (constant work per message).
    struct Layout {
        var envelope: QueueEnvelope
        var dataStart: Int
        var trailer: Trailer
    }

    /// Reads and checks the head (header, envelope records) and the tail (end marker) of a body file, and
    /// that the size between them is exactly the data records the trailer announces. A file truncated or
    /// extended anywhere fails here; a byte flipped inside the data is caught by ``QueueBodyReader``.
    static func readLayout(_ descriptor: Int32, path: String) throws(QueueError) -> Result<Layout, QueueRecordError> {
        let header = try QueueFiles.read(descriptor, count: QueueRecordFraming.fileHeaderSize, at: 0, path: path)
        do {
            try QueueRecordFraming.checkFileHeader(header[...], magic: QueueRecordFraming.bodyMagic)
        } catch {
            return .failure(error)
        }
        let envelope: QueueEnvelope
        let offset: Int
        switch try readEnvelope(descriptor, at: QueueRecordFraming.fileHeaderSize, path: path) {
        case .failure(let error): return .failure(error)
        case .success(let value): (envelope, offset) = value
        }
        let size = try QueueFiles.size(descriptor, path: path)
        return try readTrailer(descriptor, envelope: envelope, dataStart: offset, bodyEnd: size, path: path)
    }

    /// Reads the `E` and `R` records at `start`: the envelope and the offset after the last recipient.
    static func readEnvelope(
        _ descriptor: Int32, at start: Int, path: String, window: [UInt8]? = nil
    ) throws(QueueError) -> Result<(QueueEnvelope, Int), QueueRecordError> {
        var offset = start
        var envelope: QueueEnvelope
        var count: Int
        switch try readRecord(descriptor, at: offset, path: path, window: window) {
        case .failure(let error): return .failure(error)
        case .success(let (record, next)):
            offset = next
            do {
                (envelope, count) = try decodeEnvelope(record)
            } catch {
                return .failure(error)
            }
        }
        while envelope.recipients.count < count {
            switch try readRecord(descriptor, at: offset, path: path, window: window) {
            case .failure(let error): return .failure(error)
            case .success(let (record, next)):
                offset = next
                do {
                    envelope.recipients.append(try decodeRecipient(record))
                } catch {
                    return .failure(error)
                }
            }
        }
        return .success((envelope, offset))
    }

    /// Reads the end marker that closes the body at `bodyEnd` and checks that the data records between
    /// `dataStart` and it are exactly what it announces.
    static func readTrailer(
        _ descriptor: Int32, envelope: QueueEnvelope, dataStart offset: Int, bodyEnd size: Int, path: String,
        window: [UInt8]? = nil
    ) throws(QueueError) -> Result<Layout, QueueRecordError> {
        guard size - offset >= endRecordSize else { return .failure(.truncated) }
        switch try readRecord(descriptor, at: size - endRecordSize, path: path, window: window) {
        case .failure(let error): return .failure(error)
        case .success(let (record, _)):
            do {
                let trailer = try decodeEnd(record)
                let expected = trailer.dataRecords * QueueRecordFraming.recordOverhead + trailer.bodySize
                guard size - endRecordSize - offset == expected else {
                    return .failure(size - endRecordSize - offset < expected ? .truncated : .inconsistent("body length"))
                }
                var full = envelope
                full.messageSize = trailer.bodySize
                return .success(Layout(envelope: full, dataStart: offset, trailer: trailer))
            } catch {
                return .failure(error)
            }
        }
    }
}
