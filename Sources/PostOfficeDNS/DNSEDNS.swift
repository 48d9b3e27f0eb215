// DNSEDNS: the EDNS0 view of a message's OPT pseudo-record: the sender's UDP payload size, the upper
// RCODE bits, the version and the DO flag, unpacked from the record's CLASS and TTL fields.

/// EDNS0 parameters carried by an OPT record.
///
/// See [RFC 6891 §6.1.3](https://www.rfc-editor.org/rfc/rfc6891#section-6.1.3).
public struct DNSEDNS: Hashable, Sendable {
    /// The largest UDP payload the sender can reassemble. We advertise 1232 (the DNS flag day 2020 value).
    public var udpPayloadSize: UInt16
    /// The upper 8 bits of the 12-bit response code.
    public var extendedRCode: UInt8
    public var version: UInt8
    /// DO: DNSSEC records wanted.
    public var dnssecOK: Bool
    /// The 15 remaining flag bits, kept as received.
    public var reservedFlags: UInt16
    public var options: [DNSRecordData.Option]

    /// The payload size this resolver advertises (avoids IP fragmentation; see dnsflagday.net/2020).
    public static let advertisedPayloadSize: UInt16 = 1232

    public init(
        udpPayloadSize: UInt16 = DNSEDNS.advertisedPayloadSize, extendedRCode: UInt8 = 0, version: UInt8 = 0,
        dnssecOK: Bool = false, reservedFlags: UInt16 = 0, options: [DNSRecordData.Option] = []
    ) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCode = extendedRCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.reservedFlags = reservedFlags & 0x7FFF
        self.options = options
    }

    /// Reads an OPT record; nil for any other record.
    public init?(record: DNSResourceRecord) {
        guard case .opt(let options) = record.data else { return nil }
        self.init(
            udpPayloadSize: record.dnsClass.rawValue, extendedRCode: UInt8(record.ttl >> 24),
            version: UInt8(record.ttl >> 16 & 0xFF), dnssecOK: record.ttl & 0x8000 != 0,
            reservedFlags: UInt16(record.ttl & 0x7FFF), options: options)
    }

    /// The OPT record that carries these parameters (owner: the root name).
    public var record: DNSResourceRecord {
        let ttl = UInt32(extendedRCode) << 24 | UInt32(version) << 16 | (dnssecOK ? 0x8000 : 0)
            | UInt32(reservedFlags & 0x7FFF)
        return DNSResourceRecord(
            name: .root, dnsClass: DNSClass(rawValue: udpPayloadSize), ttl: ttl, data: .opt(options))
    }
}
