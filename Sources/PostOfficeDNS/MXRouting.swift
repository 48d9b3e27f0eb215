// MXRouting: RFC 5321 §5.1 as pure functions: from an MX lookup result to an ordered host list (null MX,
// implicit MX, loop avoidance, shuffled equal preferences), then to at most five addresses to try.

import PostOfficeCore

/// Where mail for a domain goes.
///
/// See [RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1) and
/// [RFC 7505](https://www.rfc-editor.org/rfc/rfc7505) (null MX).
public enum MXRouting {
    /// One mail exchanger in the order to try.
    public struct Host: Hashable, Sendable {
        public var name: DNSName
        public var preference: UInt16
        /// True for the implicit MX: the domain itself, used when it has no MX records.
        public var isImplicit: Bool

        public init(name: DNSName, preference: UInt16, isImplicit: Bool = false) {
            self.name = name
            self.preference = preference
            self.isImplicit = isImplicit
        }
    }

    /// An address to connect to, with the MX host it belongs to (for the TLS name check and the log).
    public struct Target: Hashable, Sendable {
        public var host: DNSName
        public var address: IPAddress

        public init(host: DNSName, address: IPAddress) {
            self.host = host
            self.address = address
        }
    }

    /// Routing stopped: the message bounces (`status` 5.x.x) or waits (4.x.x).
    public struct Failure: Error, Hashable, Sendable {
        public var status: EnhancedStatusCode
        public var reason: String

        public init(status: EnhancedStatusCode, reason: String) {
            self.status = status
            self.reason = reason
        }

        public var isPermanent: Bool { status.isPermanent }
    }

    /// RFC 5321 §5.1: at most this many addresses per delivery attempt (it asks for "a configurable limit").
    public static let maxAddressesPerAttempt = 5

    /// The MX hosts for `domain`, most preferred first, equal preferences in random order.
    ///
    /// - NXDOMAIN: permanent 5.1.2. A lookup error: temporary 4.4.3 (never a fallback to A/AAAA).
    /// - NODATA: the implicit MX, `domain` itself at preference 0.
    /// - Null MX (a single `0 .`): permanent 5.1.10; never a fallback to A/AAAA.
    /// - When one of `localNames` is an MX host, that host and every host at or above its preference value
    ///   are dropped (loop avoidance); nothing left: permanent 5.4.6.
    public static func hosts(
        for domain: DNSName, mxLookup: DNSLookupResult, localNames: Set<DNSName>, random: any RandomSource
    ) -> Result<[Host], Failure> {
        var hosts: [Host]
        switch mxLookup {
        case .temporaryFailure(let why):
            return .failure(Failure(status: EnhancedStatusCode(4, 4, 3), reason: "MX lookup for \(domain) failed: \(why)"))
        case .nameError:
            return .failure(Failure(status: EnhancedStatusCode(5, 1, 2), reason: "domain \(domain) does not exist"))
        case .noData:
            hosts = [Host(name: domain, preference: 0, isImplicit: true)]
        case .answer(let answer):
            let exchangers = answer.mailExchangers
            if exchangers.count == 1 && exchangers[0].exchange.isRoot {
                return .failure(
                    Failure(status: EnhancedStatusCode(5, 1, 10), reason: "domain \(domain) accepts no mail (null MX)"))
            }
            // A null MX mixed with real ones breaks RFC 7505 §3; the real ones are still usable.
            hosts = exchangers.filter { !$0.exchange.isRoot }.map { Host(name: $0.exchange, preference: $0.preference) }
            guard !hosts.isEmpty else {
                return .failure(Failure(status: EnhancedStatusCode(5, 4, 4), reason: "no usable MX host for \(domain)"))
            }
        }
        let local = Set(localNames.map { $0.lowercased() })
        if let ours = hosts.filter({ local.contains($0.name.lowercased()) }).map(\.preference).min() {
            hosts = hosts.filter { $0.preference < ours }
            guard !hosts.isEmpty else {
                return .failure(
                    Failure(status: EnhancedStatusCode(5, 4, 6), reason: "mail for \(domain) loops back to myself"))
            }
        }
        return .success(ordered(hosts, random: random))
    }

    /// Sorted by preference; each run of equal preferences shuffled (Fisher-Yates with `random`).
    static func ordered(_ hosts: [Host], random: any RandomSource) -> [Host] {
        let sorted = hosts.sorted { $0.preference < $1.preference }
        var result: [Host] = []
        var index = 0
        while index < sorted.count {
            var group = sorted[index...].prefix { $0.preference == sorted[index].preference }.map { $0 }
            index += group.count
            var position = group.count - 1
            while position > 0 {
                group.swapAt(position, Int(random.next() % UInt64(position + 1)))
                position -= 1
            }
            result += group
        }
        return result
    }

    /// Up to `limit` addresses for `hosts` in order: each host's AAAA addresses, then its A addresses.
    /// `resolve` is asked lazily (hosts after the limit is reached are never looked up). No address at all:
    /// temporary 4.4.3 when any lookup failed temporarily, else permanent 5.4.4.
    public static func targets(
        for hosts: [Host], limit: Int = maxAddressesPerAttempt,
        resolve: (DNSName, DNSRecordType) -> DNSLookupResult
    ) -> Result<[Target], Failure> {
        var targets: [Target] = []
        var temporary: DNSTemporaryFailure?
        outer: for host in hosts {
            for type in [DNSRecordType.aaaa, .a] {
                switch resolve(host.name, type) {
                case .answer(let answer):
                    for address in answer.addresses where !targets.contains(where: { $0.address == address }) {
                        targets.append(Target(host: host.name, address: address))
                        if targets.count >= limit { break outer }
                    }
                case .temporaryFailure(let why):
                    temporary = why
                case .nameError, .noData:
                    continue
                }
            }
        }
        if !targets.isEmpty { return .success(targets) }
        let names = hosts.map(\.name.description).joined(separator: ", ")
        if let temporary {
            return .failure(Failure(status: EnhancedStatusCode(4, 4, 3), reason: "address lookup for \(names) failed: \(temporary)"))
        }
        return .failure(Failure(status: EnhancedStatusCode(5, 4, 4), reason: "no address for \(names)"))
    }
}
