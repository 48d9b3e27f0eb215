// QueueStateFormat: one state — the payload of a message file's `U` record (and, in the layout before issue
// 14, the whole `messages/ID/state` file): header, `M` (held flag, recipient count, optional delay-warned flag,
// optional body-octets byte), one `S` per recipient (status, RFC 3463 code, last reply, attempts, next and last
// attempt, optional reported flag, optional remote host), end marker `Z`. Small; decoded whole.

import PostOfficeCore

/// Encoding and decoding of state files.
enum QueueStateFormat {
    /// A state file larger than this is not one we wrote (a few hundred bytes per recipient).
    static let sizeLimit = 16 << 20

    /// `bodyHasEightBitOctets` is a fact about the body, recorded at commit and carried by every rewrite
    /// (nil: not known, written as nothing).
    static func encode(_ state: QueueMessageState, bodyHasEightBitOctets: Bool? = nil) -> [UInt8] {
        var out = QueueRecordFraming.fileHeader(magic: QueueRecordFraming.stateMagic)
        var m = QueuePayloadWriter()
        m.bool(state.isHeld)
        m.u32(UInt32(state.recipients.count))
        // Optional trailing bytes (added after version 1): written only when set, so a state without them
        // is exactly what earlier releases wrote; decode treats their absence as false.
        if state.isDelayWarned || bodyHasEightBitOctets != nil { m.bool(state.isDelayWarned) }
        if let eightBit = bodyHasEightBitOctets { m.u8(eightBit ? 2 : 1) }
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.message, payload: m.bytes, to: &out)
        for recipient in state.recipients {
            var s = QueuePayloadWriter()
            switch recipient.status {
            case .pending:
                s.u8(0)
            case .delivered(let reply):
                s.u8(1)
                s.string(reply)
            case .temporaryFailure(let code, let reply):
                s.u8(2)
                s.statusCode(code)
                s.string(reply)
            case .permanentFailure(let code, let reply):
                s.u8(3)
                s.statusCode(code)
                s.string(reply)
            }
            s.int(recipient.attempts)
            s.time(recipient.nextAttempt)
            s.optionalTime(recipient.lastAttempt)
            // Optional trailing fields, in order: a later one needs the earlier ones written.
            if recipient.isReported || recipient.remoteHost != nil { s.bool(recipient.isReported) }
            if let host = recipient.remoteHost { s.string(host) }
            QueueRecordFraming.append(type: QueueRecordFraming.RecordType.recipientState, payload: s.bytes, to: &out)
        }
        var z = QueuePayloadWriter()
        z.u32(UInt32(state.recipients.count))
        QueueRecordFraming.append(type: QueueRecordFraming.RecordType.end, payload: z.bytes, to: &out)
        return out
    }

    /// Decodes a whole state file; every record, count and enumeration value is checked.
    static func decode(_ bytes: [UInt8]) throws(QueueRecordError) -> QueueMessageState {
        try decodeWithBodyFlag(bytes).state
    }

    /// Decodes a whole state file and the body-octets byte (nil when absent: written before it existed).
    static func decodeWithBodyFlag(_ bytes: [UInt8]) throws(QueueRecordError) -> (state: QueueMessageState, bodyHasEightBitOctets: Bool?) {
        var reader = try QueueRecordReader(bytes, magic: QueueRecordFraming.stateMagic)
        var m = QueuePayloadReader(try reader.next(expecting: QueueRecordFraming.RecordType.message).payload)
        let isHeld = try m.bool("held")
        let count = Int(try m.u32("recipient count"))
        let isDelayWarned = m.isAtEnd ? false : try m.bool("delay warned")
        var bodyHasEightBitOctets: Bool?
        if !m.isAtEnd {
            switch try m.u8("body octets") {
            case 1: bodyHasEightBitOctets = false
            case 2: bodyHasEightBitOctets = true
            default: throw .malformedField("body octets")
            }
        }
        try m.finish()
        var recipients: [QueueRecipientState] = []
        for _ in 0..<count {
            var s = QueuePayloadReader(try reader.next(expecting: QueueRecordFraming.RecordType.recipientState).payload)
            let status: QueueRecipientStatus
            switch try s.u8("status") {
            case 0: status = .pending
            case 1: status = .delivered(try s.string("reply"))
            case 2:
                let code = try s.statusCode("status code")
                status = .temporaryFailure(code, try s.string("reply"))
            case 3:
                let code = try s.statusCode("status code")
                status = .permanentFailure(code, try s.string("reply"))
            default: throw .malformedField("status")
            }
            let attempts = try s.count("attempts")
            let next = try s.time("next attempt")
            let last = try s.optionalTime("last attempt")
            let isReported = s.isAtEnd ? false : try s.bool("reported")
            let remoteHost = s.isAtEnd ? nil : try s.string("remote host")
            try s.finish()
            recipients.append(QueueRecipientState(
                status: status, attempts: attempts, nextAttempt: next, lastAttempt: last, isReported: isReported,
                remoteHost: remoteHost))
        }
        var z = QueuePayloadReader(try reader.next(expecting: QueueRecordFraming.RecordType.end).payload)
        guard Int(try z.u32("record count")) == count else { throw .inconsistent("state record count") }
        try z.finish()
        guard reader.isAtEnd else { throw .trailingBytes }
        return (QueueMessageState(isHeld: isHeld, recipients: recipients, isDelayWarned: isDelayWarned), bodyHasEightBitOctets)
    }
}
