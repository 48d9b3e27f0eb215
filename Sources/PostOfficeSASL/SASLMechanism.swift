// SASLMechanism: the SASL mechanisms PostOffice can run, by their registered names.
// Both the server exchange and the client exchange are built for one of these.

/// A SASL mechanism ([RFC 4422 §3.1](https://www.rfc-editor.org/rfc/rfc4422#section-3.1)).
public enum SASLMechanism: String, Hashable, Sendable, CaseIterable {
    /// PLAIN ([RFC 4616](https://www.rfc-editor.org/rfc/rfc4616)): one message, `authzid NUL authcid NUL passwd`.
    case plain = "PLAIN"
    /// LOGIN ([draft-murchison-sasl-login](https://datatracker.ietf.org/doc/html/draft-murchison-sasl-login-00)):
    /// the server asks `Username:` then `Password:`, one response each.
    case login = "LOGIN"

    /// The mechanism named `name`, compared case-insensitively (clients send `auth plain` too);
    /// nil for a mechanism this library does not implement.
    public init?(name: some StringProtocol) {
        self.init(rawValue: name.uppercased())
    }

    /// The registered name, as advertised (`PLAIN`, `LOGIN`).
    public var name: String { rawValue }
}
