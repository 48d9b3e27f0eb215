// MXResolver: a domain's mail hosts from DNS (RFC 5321 §5.1). Placeholder until the DNS resolver is wired:
// it answers every domain with a temporary failure that names the fix (set relayhost), so queued mail waits
// instead of being lost or bounced.

import PostOfficeCore

struct MXResolver: MailRouteResolver {
    var port: Int
    var environment: ServerEnvironment

    func route(for domain: String) -> MailRoute {
        .temporaryFailure(
            EnhancedStatusCode(4, 4, 3),
            "MX lookup for \(domain) is not available in this build: set relayhost to send through a smarthost")
    }
}
