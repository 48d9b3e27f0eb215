// AuthenticatedUser: what a successful login hands to the POP3 session: the name and home, never the hash.

import PostOfficeCore

/// A user who has proved their password. Holds what a session needs, not the hash.
public struct AuthenticatedUser: Hashable, Sendable {
    /// The full, lowercased address: `alice@example.test`.
    public var name: String
    /// The home directory from the passwd-file, or empty.
    public var home: String

    public init(name: String, home: String = "") {
        self.name = name
        self.home = home
    }

    /// The address as a ``MailAddress``.
    public var address: MailAddress { MailAddress(name) ?? MailAddress(localPart: name, domain: "") }
}
