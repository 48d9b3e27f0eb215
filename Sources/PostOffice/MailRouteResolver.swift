// MailRouteResolver: where mail for a domain goes — the hosts to try in order, each with its addresses — or
// why there is nowhere to go. MX lookup through our DNS resolver is one implementation; a relay host
// (smarthost) is another. Blocking: called from the storage pool, never from an event loop.

import PostOfficeCore

/// One host to try, with the addresses it resolved to (at most a few per attempt).
struct OutboundHost: Sendable, Equatable {
    /// The host name: for TLS (SNI and the certificate check) and the logs.
    var name: String
    var addresses: [SocketAddress]
}

/// Where a domain's mail goes.
enum MailRoute: Sendable, Equatable {
    case hosts([OutboundHost])
    /// Try later: a DNS timeout or SERVFAIL, no address for any MX yet.
    case temporaryFailure(EnhancedStatusCode, String)
    /// Give up: no such domain, a null MX (RFC 7505).
    case permanentFailure(EnhancedStatusCode, String)
}

protocol MailRouteResolver: Sendable {
    func route(for domain: String) -> MailRoute
}

/// Everything through one relay host (`relayhost = [address]:port`), as many home and cloud networks need
/// because they block port 25.
struct RelayhostResolver: MailRouteResolver {
    var host: OutboundHost

    func route(for domain: String) -> MailRoute { .hosts([host]) }
}
