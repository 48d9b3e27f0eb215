// MXResolver: a domain's mail hosts from DNS (RFC 5321 §5.1, RFC 7505) through our own resolver: the MX
// lookup, then addresses for the chosen hosts (at most five, IPv6 before IPv4 per host), with loop avoidance
// when we are one of the MX hosts. NXDOMAIN and a null MX fail for good; a DNS error waits (never a fallback
// from a failed MX lookup to the domain's own address).

import PostOfficeCore
import PostOfficeDNS

struct MXResolver: MailRouteResolver {
    /// The port of every MX host (25; tests use their own).
    var port: Int
    var transport: DNSTransport
    /// Our own names, so that mail is never routed back to us (the host name and the local domains).
    var localNames: Set<DNSName>

    func route(for domain: String) -> MailRoute {
        guard let name = try? DNSName(domain) else {
            return .permanentFailure(EnhancedStatusCode(5, 1, 2), "\(domain) is not a valid domain name")
        }
        switch transport.route(domain: name, localNames: localNames) {
        case .failure(let failure):
            return failure.isPermanent
                ? .permanentFailure(failure.status, failure.reason) : .temporaryFailure(failure.status, failure.reason)
        case .success(let targets):
            var hosts: [OutboundHost] = []
            for target in targets {
                let hostName = target.host.description.hasSuffix(".") ? String(target.host.description.dropLast()) : target.host.description
                let address = SocketAddress(host: target.address.description, port: port)
                if let last = hosts.last, last.name == hostName {
                    hosts[hosts.count - 1].addresses.append(address)
                } else {
                    hosts.append(OutboundHost(name: hostName, addresses: [address]))
                }
            }
            return .hosts(hosts)
        }
    }
}
