// SPFResult: the seven results of check_host() (RFC 7208 §2.6), spelled as they appear in
// Authentication-Results and Received-SPF headers.

/// The result of an SPF evaluation ([RFC 7208 §2.6](https://www.rfc-editor.org/rfc/rfc7208#section-2.6)).
public enum SPFResult: String, Hashable, Sendable, CaseIterable {
    /// No syntactically valid domain, or no SPF record was published.
    case none
    /// The domain owner explicitly states nothing about the client.
    case neutral
    /// The client is authorized.
    case pass
    /// The client is explicitly not authorized.
    case fail
    /// The client is probably not authorized (weak fail).
    case softfail
    /// A transient (usually DNS) error; a later retry may succeed.
    case temperror
    /// The published records could not be interpreted.
    case permerror
}
