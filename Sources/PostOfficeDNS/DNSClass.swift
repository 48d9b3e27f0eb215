// DNSClass: the 16-bit CLASS of a question or record. Only IN is queried; OPT reuses the field for the
// requester's UDP payload size, so any value must survive a round trip.

/// A resource record CLASS (RFC 1035 §3.2.4).
///
/// See [RFC 1035 §3.2.4](https://www.rfc-editor.org/rfc/rfc1035#section-3.2.4).
public struct DNSClass: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The Internet class.
    public static let internet = DNSClass(rawValue: 1)
}
