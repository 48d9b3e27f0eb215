// QueuePayloadReader: reads typed fields back out of a record payload, checking every length and value,
// so garbage yields a typed QueueRecordError rather than a trap.

import PostOfficeCore

/// Reads typed fields from a record payload, front to back.
struct QueuePayloadReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }

    /// Throws unless every payload byte was consumed: a longer payload is not a valid record either.
    func finish() throws(QueueRecordError) {
        if !isAtEnd { throw .malformedField("\(bytes.count - position) unread payload bytes") }
    }

    private mutating func take(_ count: Int, _ what: String) throws(QueueRecordError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - position >= count else { throw .malformedField(what) }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func u8(_ what: String) throws(QueueRecordError) -> UInt8 { try take(1, what).first! }

    mutating func bool(_ what: String) throws(QueueRecordError) -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        default: throw .malformedField(what)
        }
    }

    mutating func u16(_ what: String) throws(QueueRecordError) -> UInt16 {
        try take(2, what).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func u32(_ what: String) throws(QueueRecordError) -> UInt32 {
        try take(4, what).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64(_ what: String) throws(QueueRecordError) -> UInt64 {
        try take(8, what).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func int(_ what: String) throws(QueueRecordError) -> Int { Int(Int64(bitPattern: try u64(what))) }

    /// A count or size: must be non-negative.
    mutating func count(_ what: String) throws(QueueRecordError) -> Int {
        let v = try int(what)
        guard v >= 0 else { throw .malformedField(what) }
        return v
    }

    mutating func string(_ what: String) throws(QueueRecordError) -> String {
        let length = Int(try u32(what))
        let slice = try take(length, what)
        guard let s = String(validating: slice, as: UTF8.self) else { throw .malformedField(what + " (UTF-8)") }
        return s
    }

    mutating func optionalString(_ what: String) throws(QueueRecordError) -> String? {
        try bool(what) ? try string(what) : nil
    }

    mutating func time(_ what: String) throws(QueueRecordError) -> MailTime {
        let seconds = try int(what)
        let micros = Int(try u32(what))
        guard micros < 1_000_000 else { throw .malformedField(what) }
        return MailTime(seconds: seconds, microseconds: micros)
    }

    mutating func optionalTime(_ what: String) throws(QueueRecordError) -> MailTime? {
        try bool(what) ? try time(what) : nil
    }

    mutating func statusCode(_ what: String) throws(QueueRecordError) -> EnhancedStatusCode {
        let c = Int(try u16(what)), s = Int(try u16(what)), d = Int(try u16(what))
        guard let code = EnhancedStatusCode("\(c).\(s).\(d)") else { throw .malformedField(what) }
        return code
    }
}
