// QueueRecordFraming: the frame every queue file is made of. A file is `magic(4) version(1)` followed by
// records `type(1) length(4, big-endian) payload(length) crc32(4, big-endian, over type+length+payload)`;
// in a message file the body ends with the end marker `Z` and state records `U` follow. This enum writes
// frames and checks file headers.

/// Record frame constants and encoders shared by the body and state files.
enum QueueRecordFraming {
    /// The on-disk format version; a reader refuses any other.
    static let version: UInt8 = 1
    /// Magic + version.
    static let fileHeaderSize = 5
    /// type + length + CRC around each payload.
    static let recordOverhead = 9
    /// No record may claim more: a garbled length must not make a reader allocate gigabytes.
    static let maximumPayload = 1 << 20
    /// Body data is written in records of at most this many bytes.
    static let dataChunkSize = 64 * 1024

    /// Record types. Letters, so a hex dump of a queue file reads.
    enum RecordType {
        static let envelope = UInt8(ascii: "E")
        static let recipient = UInt8(ascii: "R")
        static let data = UInt8(ascii: "D")
        static let message = UInt8(ascii: "M")
        static let recipientState = UInt8(ascii: "S")
        static let end = UInt8(ascii: "Z")
        /// The fixed-size head of a message file: where the body ends, whether it has 8-bit octets.
        static let head = UInt8(ascii: "H")
        /// One state of a message file, appended after the body on every update; the last whole one counts.
        static let stateUpdate = UInt8(ascii: "U")
    }

    static let bodyMagic: [UInt8] = Array("POQB".utf8)
    static let stateMagic: [UInt8] = Array("POQS".utf8)
    /// A message file: envelope, body and appended states in one file (the layout since issue 14).
    static let messageMagic: [UInt8] = Array("POQF".utf8)

    static func fileHeader(magic: [UInt8]) -> [UInt8] { magic + [version] }

    /// Checks the first five bytes of a file.
    static func checkFileHeader(_ bytes: ArraySlice<UInt8>, magic: [UInt8]) throws(QueueRecordError) {
        guard bytes.count >= fileHeaderSize else {
            throw magic.starts(with: bytes) ? .truncated : .badMagic
        }
        guard bytes.prefix(4).elementsEqual(magic) else { throw .badMagic }
        let v = bytes[bytes.startIndex + 4]
        guard v == version else { throw .unsupportedVersion(v) }
    }

    /// Appends one framed record.
    static func append(type: UInt8, payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let head = frameHead(type: type, length: payload.count)
        out.append(contentsOf: head)
        out.append(contentsOf: payload)
        appendBigEndian(checksum(head: head, payload: payload), to: &out)
    }

    static func append(type: UInt8, payload: [UInt8], to out: inout [UInt8]) {
        payload.withUnsafeBytes { append(type: type, payload: $0, to: &out) }
    }

    static func frameHead(type: UInt8, length: Int) -> [UInt8] {
        var head = [type]
        appendBigEndian(UInt32(length), to: &head)
        return head
    }

    static func checksum(head: [UInt8], payload: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(head)
        crc.update(payload)
        return crc.value
    }

    static func appendBigEndian(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(v >> 24)); out.append(UInt8((v >> 16) & 0xFF))
        out.append(UInt8((v >> 8) & 0xFF)); out.append(UInt8(v & 0xFF))
    }

    static func readBigEndian32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
}
