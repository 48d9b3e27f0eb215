// DNSRecordType: the 16-bit TYPE of a question or resource record, with names for the types we use.
// Any value is representable so unknown types pass through a decode/encode round trip unchanged.

/// A resource record TYPE (RFC 1035 §3.2.2 and the IANA registry).
///
/// See [IANA DNS parameters](https://www.iana.org/assignments/dns-parameters/dns-parameters.xhtml#dns-parameters-4).
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSRecordType(rawValue: 1)
    public static let ns = DNSRecordType(rawValue: 2)
    public static let cname = DNSRecordType(rawValue: 5)
    public static let soa = DNSRecordType(rawValue: 6)
    public static let ptr = DNSRecordType(rawValue: 12)
    public static let mx = DNSRecordType(rawValue: 15)
    public static let txt = DNSRecordType(rawValue: 16)
    public static let aaaa = DNSRecordType(rawValue: 28)
    /// EDNS0 pseudo-record ([RFC 6891](https://www.rfc-editor.org/rfc/rfc6891)).
    public static let opt = DNSRecordType(rawValue: 41)
    /// DANE ([RFC 6698](https://www.rfc-editor.org/rfc/rfc6698)).
    public static let tlsa = DNSRecordType(rawValue: 52)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .ptr: "PTR"
        case .mx: "MX"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        case .opt: "OPT"
        case .tlsa: "TLSA"
        default: "TYPE\(rawValue)"
        }
    }
}
