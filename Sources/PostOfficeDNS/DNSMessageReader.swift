// DNSMessageReader: a bounds-checked cursor over message octets. Names are decompressed with a loop guard:
// every pointer must point before the previous jump target (so positions strictly decrease) and the number
// of hops is capped; the decompressed name must stay within 255 octets.

/// Reads the fields of a DNS message; every read throws instead of running past the end.
struct DNSMessageReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    /// More pointer hops than any honest message needs (a 255-octet name has at most 127 labels).
    static let maxPointerHops = 64

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func readUInt8() throws(DNSMessageError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() throws(DNSMessageError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readUInt32() throws(DNSMessageError) -> UInt32 {
        UInt32(try readUInt16()) << 16 | UInt32(try readUInt16())
    }

    mutating func readBytes(_ count: Int) throws(DNSMessageError) -> [UInt8] {
        guard count >= 0, offset + count <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A possibly compressed name (RFC 1035 §4.1.4); the cursor moves past its in-place part only.
    mutating func readName() throws(DNSMessageError) -> DNSName {
        let start = offset
        var labels: [[UInt8]] = []
        var wireLength = 1
        var position = offset
        var resumeAt: Int?
        var lowestTarget = start
        var hops = 0
        while true {
            guard position < bytes.count else { throw .truncated(offset: position) }
            let length = Int(bytes[position])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = resumeAt ?? position + 1
                    return DNSName(uncheckedLabels: labels)
                }
                guard position + 1 + length <= bytes.count else { throw .truncated(offset: position) }
                wireLength += length + 1
                guard wireLength <= DNSName.maxWireLength else { throw .nameTooLong(offset: start) }
                labels.append(Array(bytes[position + 1..<position + 1 + length]))
                position += 1 + length
            case 0xC0:
                guard position + 1 < bytes.count else { throw .truncated(offset: position) }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                if resumeAt == nil { resumeAt = position + 2 }
                // Strictly before the start of the name or of the last jump: positions only go down.
                guard target < lowestTarget else { throw .compressionPointerForward(offset: position) }
                hops += 1
                guard hops <= Self.maxPointerHops else { throw .compressionLoop(offset: start) }
                lowestTarget = target
                position = target
            default:
                // 0x40 (extended label types, RFC 6891 §5) and 0x80 (reserved): not a label of 0...63.
                throw .labelTooLong(offset: position)
            }
        }
    }

    mutating func readQuestion() throws(DNSMessageError) -> DNSQuestion {
        let name = try readName()
        let type = DNSRecordType(rawValue: try readUInt16())
        return DNSQuestion(name: name, type: type, dnsClass: DNSClass(rawValue: try readUInt16()))
    }

    mutating func readRecords(count: UInt16) throws(DNSMessageError) -> [DNSResourceRecord] {
        var records: [DNSResourceRecord] = []
        for _ in 0..<count { records.append(try readRecord()) }
        return records
    }

    mutating func readRecord() throws(DNSMessageError) -> DNSResourceRecord {
        let name = try readName()
        let type = DNSRecordType(rawValue: try readUInt16())
        let dnsClass = DNSClass(rawValue: try readUInt16())
        let ttl = try readUInt32()
        let length = Int(try readUInt16())
        let start = offset
        let end = start + length
        guard end <= bytes.count else { throw .truncated(offset: start) }
        let data = try readRecordData(type: type, end: end)
        guard offset == end else { throw .badRecordData(offset: start) }
        return DNSResourceRecord(name: name, dnsClass: dnsClass, ttl: ttl, data: data)
    }

    /// RDATA of `type`, which must end exactly at `end`. Names inside may be compressed (RFC 3597 §4 lists
    /// the types where that is allowed; we read the ones we parse).
    private mutating func readRecordData(type: DNSRecordType, end: Int) throws(DNSMessageError) -> DNSRecordData {
        let start = offset
        switch type {
        case .a, .aaaa:
            guard let address = IPAddress(octets: try readBytes(end - start)), address.isIPv6 == (type == .aaaa)
            else { throw .badRecordData(offset: start) }
            return type == .a ? .a(address) : .aaaa(address)
        case .mx:
            let preference = try readUInt16()
            return .mx(preference: preference, exchange: try readName())
        case .cname: return .cname(try readName())
        case .ptr: return .ptr(try readName())
        case .ns: return .ns(try readName())
        case .soa:
            let primary = try readName()
            let mailbox = try readName()
            return .soa(
                DNSRecordData.SOA(
                    primaryServer: primary, responsibleMailbox: mailbox, serial: try readUInt32(),
                    refresh: try readUInt32(), retry: try readUInt32(), expire: try readUInt32(),
                    minimum: try readUInt32()))
        case .txt:
            var strings: [[UInt8]] = []
            while offset < end {
                let length = Int(try readUInt8())
                guard offset + length <= end else { throw .badRecordData(offset: start) }
                strings.append(try readBytes(length))
            }
            return .txt(strings)
        case .tlsa:
            guard end - start >= 3 else { throw .badRecordData(offset: start) }
            return .tlsa(
                DNSRecordData.TLSA(
                    certificateUsage: try readUInt8(), selector: try readUInt8(), matchingType: try readUInt8(),
                    associationData: try readBytes(end - offset)))
        case .opt:
            var options: [DNSRecordData.Option] = []
            while offset < end {
                guard end - offset >= 4 else { throw .badRecordData(offset: start) }
                let code = try readUInt16()
                let length = Int(try readUInt16())
                guard offset + length <= end else { throw .badRecordData(offset: start) }
                options.append(DNSRecordData.Option(code: code, data: try readBytes(length)))
            }
            return .opt(options)
        default:
            return .unknown(type: type, data: try readBytes(end - start))
        }
    }
}
