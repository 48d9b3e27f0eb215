// DeliveryDirectory: plain data saying who is local — domains, users, aliases, catch-alls, subaddressing.
// The server builds it from its passwd-file and alias table; delivery never reads those files itself.

import PostOfficeCore

/// Who receives mail here: the local domains, the users (mailboxes), aliases and per-domain catch-alls.
///
/// Matching rules (chosen to match how Postfix virtual tables and Dovecot passwd-files are normally used):
/// - Domains compare case-insensitively ([RFC 5321 §2.4](https://www.rfc-editor.org/rfc/rfc5321#section-2.4)).
/// - Local parts are case-sensitive by the RFC, but every key here is stored in **lower case** and every
///   lookup lower-cases the local part first, so `Alice@Example.org` and `alice@example.org` are the same
///   user. Two users differing only in case cannot exist. (Postfix and Dovecot users are normally lower case.)
/// - Keys are full addresses `local@domain`. Alias targets may be in any local domain and may be aliases
///   themselves; ``RecipientResolver`` expands chains, stops cycles and bounds the depth.
/// - A catch-all receives mail for a local domain's unknown local parts; its target is expanded like an alias.
/// - ``subaddressDelimiter`` (default `+`, nil disables) splits `user+tag`: `user+tag@d` reaches `user@d`
///   when no user or alias `user+tag@d` exists ([RFC 5233](https://www.rfc-editor.org/rfc/rfc5233)).
public struct DeliveryDirectory: Sendable, Hashable {
    /// Local domains, lower case.
    public private(set) var localDomains: Set<String>
    /// User addresses (`local@domain`), lower case.
    public private(set) var users: Set<String>
    /// Alias address (lower case) to its targets (lower case), in the order given.
    public private(set) var aliases: [String: [String]]
    /// Local domain (lower case) to the address that receives its unknown local parts.
    public private(set) var catchAll: [String: String]
    /// The subaddress delimiter; nil disables subaddressing.
    public var subaddressDelimiter: Character?

    /// Creates a directory. Addresses are lower-cased; an address without `@` is ignored by lookups.
    public init(
        localDomains: [String] = [],
        users: [String] = [],
        aliases: [String: [String]] = [:],
        catchAll: [String: String] = [:],
        subaddressDelimiter: Character? = "+"
    ) {
        self.localDomains = Set(localDomains.map { $0.lowercased() })
        self.users = Set(users.map { $0.lowercased() })
        var normalizedAliases: [String: [String]] = [:]
        for (key, targets) in aliases {
            normalizedAliases[key.lowercased(), default: []].append(contentsOf: targets.map { $0.lowercased() })
        }
        self.aliases = normalizedAliases
        var normalizedCatchAll: [String: String] = [:]
        for (domain, target) in catchAll { normalizedCatchAll[domain.lowercased()] = target.lowercased() }
        self.catchAll = normalizedCatchAll
        self.subaddressDelimiter = subaddressDelimiter
    }

    /// Adds a local domain.
    public mutating func addDomain(_ domain: String) {
        localDomains.insert(domain.lowercased())
    }

    /// Adds a user (`local@domain`); its domain becomes local too.
    public mutating func addUser(_ address: String) {
        let key = address.lowercased()
        users.insert(key)
        if let at = key.lastIndex(of: "@") { localDomains.insert(String(key[key.index(after: at)...])) }
    }

    /// Adds targets to an alias.
    public mutating func addAlias(_ address: String, targets: [String]) {
        aliases[address.lowercased(), default: []].append(contentsOf: targets.map { $0.lowercased() })
    }

    /// Sets (or with nil removes) the catch-all of a local domain.
    public mutating func setCatchAll(domain: String, target: String?) {
        catchAll[domain.lowercased()] = target?.lowercased()
    }

    /// True when `domain` is a local domain.
    public func isLocal(domain: String) -> Bool {
        localDomains.contains(domain.lowercased())
    }

    /// The lookup key of an address: `local@domain`, lower case.
    public static func key(localPart: String, domain: String) -> String {
        "\(localPart.lowercased())@\(domain.lowercased())"
    }
}
