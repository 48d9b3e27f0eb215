// DNSLookupResult: what one lookup concluded, in the classes mail routing acts on: records (after CNAMEs),
// the name does not exist (final), the name has no such records (NODATA), or try again later.

/// The outcome of resolving one name and type.
///
/// Negative answers carry the TTL they may be cached for ([RFC 2308 §5](https://www.rfc-editor.org/rfc/rfc2308#section-5)).
public enum DNSLookupResult: Hashable, Sendable {
    /// Records of the asked type, owned by `canonicalName` (the query name after following CNAMEs).
    case answer(DNSAnswer)
    /// NXDOMAIN: the name does not exist. Final.
    case nameError(negativeTTL: UInt32)
    /// NODATA: the name exists but has no records of this type (for MX: use the implicit MX).
    case noData(negativeTTL: UInt32)
    /// No usable answer now (SERVFAIL, REFUSED, timeouts, ...). Try again later.
    case temporaryFailure(DNSTemporaryFailure)

    /// How long the result may be cached, in seconds; 0 for temporary failures.
    public var ttl: UInt32 {
        switch self {
        case .answer(let answer): answer.ttl
        case .nameError(let ttl), .noData(let ttl): ttl
        case .temporaryFailure: 0
        }
    }
}

/// The records of a successful lookup.
public struct DNSAnswer: Hashable, Sendable {
    /// The name the records belong to: the query name, or the end of its CNAME chain.
    public var canonicalName: DNSName
    /// The records of the asked type at `canonicalName`, in the order the server sent them.
    public var records: [DNSResourceRecord]
    /// The smallest TTL of the records and of the CNAMEs followed.
    public var ttl: UInt32

    public init(canonicalName: DNSName, records: [DNSResourceRecord], ttl: UInt32) {
        self.canonicalName = canonicalName
        self.records = records
        self.ttl = ttl
    }

    /// The addresses of A and AAAA records.
    public var addresses: [IPAddress] {
        records.compactMap {
            switch $0.data {
            case .a(let address), .aaaa(let address): address
            default: nil
            }
        }
    }

    /// The (preference, exchange) pairs of MX records.
    public var mailExchangers: [(preference: UInt16, exchange: DNSName)] {
        records.compactMap {
            if case .mx(let preference, let exchange) = $0.data { (preference, exchange) } else { nil }
        }
    }

    /// The strings of each TXT record, joined (RFC 7208 §3.3: SPF and DKIM values split into strings).
    public var texts: [[UInt8]] {
        records.compactMap { if case .txt(let strings) = $0.data { strings.flatMap { $0 } } else { nil } }
    }
}

/// Why a lookup gave no answer this time.
public enum DNSTemporaryFailure: Hashable, Sendable {
    /// No server answered within the timeouts.
    case timeout
    /// A server answered SERVFAIL (or FORMERR/NOTIMP to a plain query).
    case serverFailure
    /// A server answered REFUSED.
    case refused
    /// A server sent a referral instead of recursing (a lame server), or an unusable answer.
    case lameServer
    /// The CNAME chain in the answer was too long or looped.
    case cnameChain
    /// Sending or connecting failed (unreachable network, connection refused or reset).
    case transport
}
