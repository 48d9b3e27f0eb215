// QueueRecordError: why a queue file failed validation. Every decoding failure is one of these typed
// cases — never a crash — so a damaged file can be moved to corrupt/ with a reason in the log.

/// Why bytes read from a queue file are not a valid record stream.
public enum QueueRecordError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file does not start with the expected magic bytes (wrong kind of file, or garbage).
    case badMagic
    /// A format version this code does not read.
    case unsupportedVersion(UInt8)
    /// The file ends inside a record, or before its end marker.
    case truncated
    /// A record's CRC-32 does not match its bytes.
    case checksumMismatch(recordType: UInt8)
    /// A record claims more payload than any record of its type may have.
    case payloadTooLong(Int)
    /// A record of a type not allowed at this position.
    case unexpectedRecord(UInt8)
    /// A field inside a record payload is malformed (bad length, bad UTF-8, bad enumeration value).
    case malformedField(String)
    /// Bytes follow the end marker.
    case trailingBytes
    /// The records are individually valid but disagree (counts, sizes, body checksum).
    case inconsistent(String)

    public var description: String {
        switch self {
        case .badMagic: "bad magic"
        case .unsupportedVersion(let v): "unsupported version \(v)"
        case .truncated: "truncated"
        case .checksumMismatch(let type): "checksum mismatch in record \(Self.name(type))"
        case .payloadTooLong(let n): "record payload too long (\(n) bytes)"
        case .unexpectedRecord(let type): "unexpected record \(Self.name(type))"
        case .malformedField(let what): "malformed field: \(what)"
        case .trailingBytes: "bytes after the end marker"
        case .inconsistent(let what): "inconsistent: \(what)"
        }
    }

    /// A record type as a printable letter, or its number.
    static func name(_ type: UInt8) -> String {
        (0x41...0x5A).contains(type) ? String(UnicodeScalar(type)) : "0x" + String(type, radix: 16)
    }
}
