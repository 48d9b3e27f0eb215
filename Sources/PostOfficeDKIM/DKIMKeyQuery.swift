// DKIMKeyQuery: the one question the sans-I/O verifier asks its caller (the TXT record of
// `selector._domainkey.domain`) and the answers it understands, mapped to temperror/permerror by the verifier.

/// The DNS question a verifier needs answered, [RFC 6376 §3.6.2.1](https://www.rfc-editor.org/rfc/rfc6376#section-3.6.2.1).
public struct DKIMKeyQuery: Hashable, Sendable, CustomStringConvertible {
    public var domain: String
    public var selector: String

    public init(domain: String, selector: String) {
        self.domain = domain
        self.selector = selector
    }

    /// `selector._domainkey.domain`, the name whose TXT record to fetch.
    public var name: String { "\(selector)._domainkey.\(domain)" }
    public var description: String { "TXT \(name)" }
}

/// The caller's answer to a ``DKIMKeyQuery``.
public enum DKIMKeyAnswer: Hashable, Sendable {
    /// The TXT record's text, its character-strings joined without separators (§3.6.2.2).
    case record(String)
    /// NXDOMAIN or no TXT record: `permerror` (no key).
    case notFound
    /// SERVFAIL, timeout and the like: `temperror`.
    case temporaryFailure
}
