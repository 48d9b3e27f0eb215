// DNSMessageWriter: appends message fields and compresses names against earlier ones. Suffixes are keyed by
// their exact octets (not case-folded) so a decoded name is always the name that was encoded.

/// Builds the wire form of a DNS message.
struct DNSMessageWriter {
    private(set) var bytes: [UInt8] = []
    /// Where each name suffix written so far starts; pointers can only reach the first 16 KiB.
    private var suffixOffsets: [ArraySlice<[UInt8]>: Int] = [:]

    mutating func writeUInt8(_ value: UInt8) { bytes.append(value) }

    mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func writeUInt32(_ value: UInt32) {
        writeUInt16(UInt16(value >> 16))
        writeUInt16(UInt16(value & 0xFFFF))
    }

    /// Writes `name`, ending in a pointer to an earlier copy of its longest already-written suffix.
    mutating func writeName(_ name: DNSName, compress: Bool = true) {
        let labels = name.labels
        for index in labels.indices {
            let suffix = labels[index...]
            if compress, let earlier = suffixOffsets[suffix] {
                writeUInt16(0xC000 | UInt16(earlier))
                return
            }
            if bytes.count < 0x4000 && suffixOffsets[suffix] == nil { suffixOffsets[suffix] = bytes.count }
            writeUInt8(UInt8(labels[index].count))
            bytes.append(contentsOf: labels[index])
        }
        writeUInt8(0)
    }

    mutating func writeRecord(_ record: DNSResourceRecord) throws(DNSMessageError) {
        writeName(record.name)
        writeUInt16(record.type.rawValue)
        writeUInt16(record.dnsClass.rawValue)
        writeUInt32(record.ttl)
        let lengthOffset = bytes.count
        writeUInt16(0)
        try writeRecordData(record.data)
        let length = bytes.count - lengthOffset - 2
        guard length <= 0xFFFF else { throw .tooLong("RDATA of \(length) octets") }
        bytes[lengthOffset] = UInt8(length >> 8)
        bytes[lengthOffset + 1] = UInt8(length & 0xFF)
    }

    private mutating func writeRecordData(_ data: DNSRecordData) throws(DNSMessageError) {
        switch data {
        case .a(let address), .aaaa(let address):
            bytes.append(contentsOf: address.octets)
        case .mx(let preference, let exchange):
            writeUInt16(preference)
            writeName(exchange)
        case .cname(let name), .ptr(let name), .ns(let name):
            writeName(name)
        case .soa(let soa):
            writeName(soa.primaryServer)
            writeName(soa.responsibleMailbox)
            for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { writeUInt32(value) }
        case .txt(let strings):
            for string in strings {
                guard string.count <= 255 else { throw .tooLong("TXT string of \(string.count) octets") }
                writeUInt8(UInt8(string.count))
                bytes.append(contentsOf: string)
            }
        case .tlsa(let tlsa):
            bytes.append(contentsOf: [tlsa.certificateUsage, tlsa.selector, tlsa.matchingType])
            bytes.append(contentsOf: tlsa.associationData)
        case .opt(let options):
            for option in options {
                guard option.data.count <= 0xFFFF else { throw .tooLong("EDNS option of \(option.data.count) octets") }
                writeUInt16(option.code)
                writeUInt16(UInt16(option.data.count))
                bytes.append(contentsOf: option.data)
            }
        case .unknown(_, let raw):
            bytes.append(contentsOf: raw)
        }
    }
}
