// DNSQuestion: one entry of the question section (QNAME, QTYPE, QCLASS). The resolver matches answers
// against it (RFC 5452): name case-insensitively, type and class exactly.

/// A question: which records of which name are wanted.
///
/// See [RFC 1035 §4.1.2](https://www.rfc-editor.org/rfc/rfc1035#section-4.1.2).
public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var dnsClass: DNSClass

    public init(name: DNSName, type: DNSRecordType, dnsClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
    }

    /// True when `other` asks the same: name ignoring case (RFC 4343), type and class exactly.
    public func matches(_ other: DNSQuestion) -> Bool {
        type == other.type && dnsClass == other.dnsClass && name.matches(other.name)
    }
}
