// DNSRecordData: the RDATA of a resource record, parsed for the types mail routing needs and kept as raw
// octets for every other type. The case decides the record's TYPE, so the two can never disagree.

/// The data of a resource record.
///
/// Formats: A/NS/CNAME/SOA/PTR/MX/TXT in [RFC 1035 §3.3](https://www.rfc-editor.org/rfc/rfc1035#section-3.3),
/// AAAA in [RFC 3596](https://www.rfc-editor.org/rfc/rfc3596), TLSA in
/// [RFC 6698 §2.1](https://www.rfc-editor.org/rfc/rfc6698#section-2.1), OPT in
/// [RFC 6891 §6.1.2](https://www.rfc-editor.org/rfc/rfc6891#section-6.1.2).
public enum DNSRecordData: Hashable, Sendable {
    /// An IPv4 address (4 octets).
    case a(IPAddress)
    /// An IPv6 address (16 octets).
    case aaaa(IPAddress)
    case mx(preference: UInt16, exchange: DNSName)
    /// One or more character-strings of up to 255 octets each; SPF and DKIM split long values this way.
    case txt([[UInt8]])
    case ptr(DNSName)
    case cname(DNSName)
    case ns(DNSName)
    case soa(SOA)
    case tlsa(TLSA)
    /// The options of an EDNS0 OPT pseudo-record.
    case opt([Option])
    /// Any other type, as raw RDATA.
    case unknown(type: DNSRecordType, data: [UInt8])

    /// Start of authority; `minimum` bounds the negative-caching TTL (RFC 2308 §5).
    public struct SOA: Hashable, Sendable {
        public var primaryServer: DNSName
        public var responsibleMailbox: DNSName
        public var serial: UInt32
        public var refresh: UInt32
        public var retry: UInt32
        public var expire: UInt32
        public var minimum: UInt32

        public init(
            primaryServer: DNSName, responsibleMailbox: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32,
            expire: UInt32, minimum: UInt32
        ) {
            self.primaryServer = primaryServer
            self.responsibleMailbox = responsibleMailbox
            self.serial = serial
            self.refresh = refresh
            self.retry = retry
            self.expire = expire
            self.minimum = minimum
        }
    }

    /// A DANE TLSA association (RFC 6698).
    public struct TLSA: Hashable, Sendable {
        public var certificateUsage: UInt8
        public var selector: UInt8
        public var matchingType: UInt8
        public var associationData: [UInt8]

        public init(certificateUsage: UInt8, selector: UInt8, matchingType: UInt8, associationData: [UInt8]) {
            self.certificateUsage = certificateUsage
            self.selector = selector
            self.matchingType = matchingType
            self.associationData = associationData
        }
    }

    /// One EDNS0 option (code, data).
    public struct Option: Hashable, Sendable {
        public var code: UInt16
        public var data: [UInt8]

        public init(code: UInt16, data: [UInt8]) {
            self.code = code
            self.data = data
        }
    }

    /// The TYPE this data belongs to.
    public var type: DNSRecordType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .mx: .mx
        case .txt: .txt
        case .ptr: .ptr
        case .cname: .cname
        case .ns: .ns
        case .soa: .soa
        case .tlsa: .tlsa
        case .opt: .opt
        case .unknown(let type, _): type
        }
    }
}
