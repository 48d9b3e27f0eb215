// QueueRecordReader: splits in-memory queue records (a state, the head of a message file, the states after
// its body) into checked records. Every length is bounded and every CRC verified before a payload is returned.

/// One record: its type letter and its payload.
struct QueueRecord: Hashable {
    var type: UInt8
    var payload: [UInt8]
}

/// Reads framed records from a byte buffer.
struct QueueRecordReader {
    private let bytes: [UInt8]
    private(set) var position: Int
    /// The largest payload accepted (a state record may be larger than a body record).
    var payloadLimit = QueueRecordFraming.maximumPayload

    /// Checks the file header and positions the reader at the first record.
    init(_ bytes: [UInt8], magic: [UInt8]) throws(QueueRecordError) {
        try QueueRecordFraming.checkFileHeader(bytes[...], magic: magic)
        self.bytes = bytes
        position = QueueRecordFraming.fileHeaderSize
    }

    /// A reader over bytes that start at a record boundary (no file header).
    init(records bytes: [UInt8]) {
        self.bytes = bytes
        position = 0
    }

    var isAtEnd: Bool { position == bytes.count }

    /// The next record; throws `.truncated` when the buffer ends inside one, or at its end.
    mutating func next() throws(QueueRecordError) -> QueueRecord {
        let remaining = bytes.count - position
        guard remaining >= QueueRecordFraming.recordOverhead else { throw .truncated }
        let type = bytes[position]
        let length = Int(QueueRecordFraming.readBigEndian32(bytes[(position + 1)...]))
        guard length <= payloadLimit else { throw .payloadTooLong(length) }
        guard remaining - QueueRecordFraming.recordOverhead >= length else { throw .truncated }
        let payloadStart = position + 5
        let stored = QueueRecordFraming.readBigEndian32(bytes[(payloadStart + length)...])
        let computed = bytes.withUnsafeBytes { raw in
            QueueRecordFraming.checksum(
                head: Array(bytes[position..<payloadStart]),
                payload: UnsafeRawBufferPointer(rebasing: raw[payloadStart..<payloadStart + length]))
        }
        guard stored == computed else { throw .checksumMismatch(recordType: type) }
        position = payloadStart + length + 4
        return QueueRecord(type: type, payload: Array(bytes[payloadStart..<payloadStart + length]))
    }

    /// The next record, which must be of `type`.
    mutating func next(expecting type: UInt8) throws(QueueRecordError) -> QueueRecord {
        let record = try next()
        guard record.type == type else { throw .unexpectedRecord(record.type) }
        return record
    }
}
