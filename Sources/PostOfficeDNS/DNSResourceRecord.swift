// DNSResourceRecord: one record of the answer, authority or additional section. Its TYPE comes from the
// data; the class and TTL are raw fields (OPT stores the payload size and extended RCODE in them).

/// A resource record.
///
/// See [RFC 1035 §4.1.3](https://www.rfc-editor.org/rfc/rfc1035#section-4.1.3).
public struct DNSResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var dnsClass: DNSClass
    /// Seconds the record may be cached (RFC 2181 §8: values above 2^31-1 are read as 0 by `cacheTTL`).
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, dnsClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.dnsClass = dnsClass
        self.ttl = ttl
        self.data = data
    }

    public var type: DNSRecordType { data.type }

    /// The TTL as a cache may use it: values with the top bit set count as 0 (RFC 2181 §8).
    public var cacheTTL: UInt32 { ttl > 0x7FFF_FFFF ? 0 : ttl }
}
