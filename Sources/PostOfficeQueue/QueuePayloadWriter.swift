// QueuePayloadWriter: builds the payload of one queue record from typed fields (big-endian integers,
// length-prefixed UTF-8 strings). Its counterpart is QueuePayloadReader; the two must stay in step.

import PostOfficeCore

/// Appends typed fields to a record payload.
struct QueuePayloadWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    mutating func u32(_ v: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(shift)) & 0xFF)) }
    }
    mutating func u64(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(shift)) & 0xFF)) }
    }
    mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }

    mutating func string(_ s: String) {
        u32(UInt32(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    mutating func optionalString(_ s: String?) {
        bool(s != nil)
        if let s { string(s) }
    }

    mutating func time(_ t: MailTime) {
        int(t.seconds)
        u32(UInt32(truncatingIfNeeded: t.microseconds))
    }

    mutating func optionalTime(_ t: MailTime?) {
        bool(t != nil)
        if let t { time(t) }
    }

    mutating func statusCode(_ code: EnhancedStatusCode) {
        u16(UInt16(truncatingIfNeeded: code.statusClass))
        u16(UInt16(truncatingIfNeeded: code.subject))
        u16(UInt16(truncatingIfNeeded: code.detail))
    }
}
