// PolicyDNSQuestion: what an SPF or DMARC evaluation asks its caller to look up. The engines do no DNS
// themselves (sans-I/O); the runtime answers with its resolver, tests answer from zone tables.

/// One DNS question asked by ``SPFEvaluation`` or ``DMARCEvaluation``: a record type and an absolute name
/// (no trailing dot).
public struct PolicyDNSQuestion: Hashable, Sendable, CustomStringConvertible {
    /// The record types the policy engines need.
    public enum RecordType: String, Hashable, Sendable {
        case txt = "TXT", a = "A", aaaa = "AAAA", mx = "MX", ptr = "PTR"
    }

    public var type: RecordType
    /// The name to query, without a trailing dot.
    public var name: String

    public init(_ type: RecordType, _ name: String) {
        self.type = type
        self.name = name
    }

    public var description: String { "\(type.rawValue) \(name)" }
}
