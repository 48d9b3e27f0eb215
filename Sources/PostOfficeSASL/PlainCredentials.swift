// PlainCredentials: the identities and password of a SASL PLAIN message, parsed and serialised.
// The LOGIN mechanism yields the same value (with an empty authorization identity), so a verifier has one shape.

/// `[authzid] NUL authcid NUL passwd` ([RFC 4616 §2](https://www.rfc-editor.org/rfc/rfc4616#section-2)).
///
/// Parsing checks structure only (three UTF-8 fields, no NUL in the password). Whether an empty
/// authentication identity, an empty password or a differing authorization identity (proxy login) is
/// acceptable is the verifier's policy, not the codec's.
public struct PlainCredentials: Hashable, Sendable {
    /// The identity to act as; empty means "the same as ``authenticationIdentity``".
    public var authorizationIdentity: String
    /// The user name whose password is checked.
    public var authenticationIdentity: String
    /// The password.
    public var password: String

    public init(authorizationIdentity: String = "", authenticationIdentity: String, password: String) {
        self.authorizationIdentity = authorizationIdentity
        self.authenticationIdentity = authenticationIdentity
        self.password = password
    }

    /// Parses a decoded PLAIN message; throws ``SASLFailure/malformedMessage`` when it is not three
    /// NUL-separated UTF-8 fields.
    public init(parsing message: some Collection<UInt8>) throws(SASLFailure) {
        let parts = Array(message).split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[2].contains(0),
            let authorizationIdentity = String(validating: parts[0], as: UTF8.self),
            let authenticationIdentity = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self)
        else { throw .malformedMessage }
        self.init(
            authorizationIdentity: authorizationIdentity, authenticationIdentity: authenticationIdentity,
            password: password)
    }

    /// The PLAIN message (before base64): `authzid NUL authcid NUL passwd`.
    public var message: [UInt8] {
        Array(authorizationIdentity.utf8) + [0] + Array(authenticationIdentity.utf8) + [0] + Array(password.utf8)
    }
}
