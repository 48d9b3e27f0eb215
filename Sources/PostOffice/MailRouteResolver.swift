// MailRouteResolver: where mail for a domain goes — the hosts to try in order, each with its addresses, this
// server's own mailboxes (a transport_maps `local` entry) — or why there is nowhere to go. MX lookup through
// our DNS resolver is one implementation; OutboundRouting adds the relay host and transport_maps.
// Blocking: called from the storage pool, never from an event loop.

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
    /// Into this server's mailboxes (transport_maps `local`).
    case local
    /// Try later: a DNS timeout or SERVFAIL, no address for any MX yet.
    case temporaryFailure(EnhancedStatusCode, String)
    /// Give up: no such domain, a null MX (RFC 7505).
    case permanentFailure(EnhancedStatusCode, String)
}

protocol MailRouteResolver: Sendable {
    func route(for domain: String) -> MailRoute
}
