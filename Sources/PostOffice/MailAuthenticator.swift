// MailAuthenticator: the server's SPF, DKIM and DMARC checks of inbound mail. It drives the sans-I/O
// engines (PostOfficeSPF, PostOfficeDKIM) with our resolver; every call blocks on DNS, so it runs on the
// storage pool (as MX lookups do), each check bounded by `mail_authentication_timeout`.

import PostOfficeCore
import PostOfficeDKIM
import PostOfficeDNS
import PostOfficeSPF

/// The checks shared by the sessions of one server.
final class MailAuthenticator: Sendable {
    let transport: DNSTransport
    let publicSuffixList: PublicSuffixList
    let random: any RandomSource
    /// DKIM keys loaded into OpenSSL, shared by every inbound message (RSA key loading cost more than the check).
    let publicKeys = DKIMPublicKeyCache(capacity: 1000)
    /// SPF and DMARC records parsed, keyed by their text (the replaying SPF evaluation parsed each again per answer).
    let policyRecords = PolicyRecordCache(capacity: 1000)
    /// The engines' answers converted from the DNS cache, kept until the cache entries expire.
    let policyAnswers = PolicyAnswerCache(capacity: 1000)
    /// Reused files for the part of a large message beyond what its session keeps in memory.
    let spool = MailAuthenticationSpool()

    init(transport: DNSTransport, publicSuffixList: PublicSuffixList, random: any RandomSource) {
        self.transport = transport
        self.publicSuffixList = publicSuffixList
        self.random = random
    }

    /// check_host() for the MAIL FROM identity, or HELO's when the reverse-path is `<>`
    /// ([RFC 7208 §2.3–2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.3)); nil when the client
    /// address is not an IP address (nothing to check).
    func checkSPF(
        reversePath: MailAddress?, helo: String, client: String, receiver: String, now: Int, timeoutSeconds: Int
    ) -> SPFOutcome? {
        guard let request = Self.spfRequest(reversePath: reversePath, helo: helo, client: client, receiver: receiver, now: now)
        else { return nil }
        let resolver = PolicyDNSResolver(transport: transport, timeoutSeconds: timeoutSeconds, answers: policyAnswers)
        return Self.explained(SPFEvaluation.evaluate(request, records: policyRecords) { resolver.answer($0) })
    }

    /// What `checkSPF` finds when every answer it needs is in the DNS cache (unexpired), computed here
    /// without blocking, so the session need not hop to the storage pool and back; nil when some answer is
    /// not cached (then `checkSPF` asks DNS on the storage pool).
    func cachedSPF(reversePath: MailAddress?, helo: String, client: String, receiver: String, now: Int) -> CachedSPF? {
        guard let request = Self.spfRequest(reversePath: reversePath, helo: helo, client: client, receiver: receiver, now: now)
        else { return CachedSPF(outcome: nil) }
        guard let cache = transport.cache else { return nil }
        struct NotCached: Error {}
        let outcome = try? SPFEvaluation.evaluate(request, records: policyRecords) { question throws(NotCached) in
            guard let answer = PolicyDNSResolver.cachedAnswer(question, in: cache, answers: policyAnswers) else { throw NotCached() }
            return answer
        }
        return outcome.map { CachedSPF(outcome: Self.explained($0)) }
    }

    /// An SPF outcome found from the cache: nil when there was nothing to check.
    struct CachedSPF {
        var outcome: SPFOutcome?
    }

    /// The check_host() request for the session's identities; nil when the client is not an IP address.
    private static func spfRequest(
        reversePath: MailAddress?, helo: String, client: String, receiver: String, now: Int
    ) -> SPFRequest? {
        guard let address = SPFIPAddress(client) else { return nil }
        // No default explanation yet: only a fail reads it (`explained` adds it then), and composing it for
        // every check cost more than the rest of the request.
        return SPFRequest(
            mailFrom: reversePath?.description ?? "", helo: helo, clientAddress: address, receiver: receiver, timestamp: now)
    }

    /// The outcome as if the request had carried its default explanation from the start: the evaluation
    /// reads it only for a fail without a usable `exp=` (RFC 7208 §6.2), which is exactly when a fail's
    /// explanation is still nil without it.
    static func explained(_ outcome: SPFOutcome) -> SPFOutcome {
        var outcome = outcome
        guard outcome.result == .fail, outcome.explanation == nil else { return outcome }
        let text = "the SPF record of \(outcome.request.domain) does not permit \(outcome.request.clientAddress) to send its mail"
        outcome.request.defaultExplanation = text
        outcome.explanation = text
        return outcome
    }

    /// Fetches the keys of a finished verifier's signatures, then evaluates DMARC for `fromDomain` with them
    /// and the SPF outcome ([RFC 7489 §6.6](https://www.rfc-editor.org/rfc/rfc7489#section-6.6)).
    func verify(
        _ verifier: inout DKIMVerifier, fromDomain: String?, spf: SPFOutcome?, timeoutSeconds: Int
    ) -> (dkim: [DKIMResult], dmarc: DMARCOutcome?) {
        let resolver = PolicyDNSResolver(transport: transport, timeoutSeconds: timeoutSeconds, answers: policyAnswers)
        for query in verifier.keyQueries { verifier.provideKey(resolver.key(query), for: query) }
        let dkim = verifier.results()
        guard let fromDomain else { return (dkim, nil) }
        let request = DMARCRequest(
            fromDomain: fromDomain, spfResult: spf?.result ?? .none, spfDomain: spf?.request.domain ?? "",
            dkimResults: dkim.compactMap { result in
                result.domain.map { DMARCRequest.DKIMResult(domain: $0, passed: result.status == .pass) }
            },
            publicSuffixList: publicSuffixList, sample: Int(random.next() % 100))
        return (dkim, DMARCEvaluation.evaluate(request, records: policyRecords) { resolver.answer($0) })
    }
}
