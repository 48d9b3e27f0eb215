// DeliveryDirectory: plain data saying who is local — domains, users, aliases, catch-alls, subaddressing.
// The server builds it from its passwd-file and alias table; delivery never reads those files itself.

import PostOfficeCore

/// Who receives mail here: the local domains, the users (mailboxes), aliases and per-domain catch-alls.
///
/// Matching rules (chosen to match how Postfix virtual tables and Dovecot passwd-files are normally used):
/// - Every key is stored, and every lookup made, in the canonical form of ``MailAddress``
///   (``MailAddress/canonicalAddress(_:)``): ASCII letters lowercased in the local part and the domain
///   ([RFC 5321 §2.4](https://www.rfc-editor.org/rfc/rfc5321#section-2.4) leaves local-part case to us),
///   every other byte kept, compared byte for byte. So `Alice@Example.org` is `alice@example.org`, but
///   `\u{212A}ate@` (KELVIN SIGN) is not `kate@`: there is no Unicode case folding or normalization.
///   Look up with ``hasUser(_:)``, ``aliasTargets(_:)``, ``catchAllTarget(domain:)`` and
///   ``isLocal(domain:)``: the public sets, like all Swift strings, compare by canonical equivalence.
/// - Keys are full addresses `local@domain`. Alias targets may be in any local domain and may be aliases
///   themselves; ``RecipientResolver`` expands chains, stops cycles and bounds the depth.
/// - A catch-all receives mail for a local domain's unknown local parts; its target is expanded like an alias.
/// - ``subaddressDelimiter`` (default `+`, nil disables) splits `user+tag`: `user+tag@d` reaches `user@d`
///   when no user or alias `user+tag@d` exists ([RFC 5233](https://www.rfc-editor.org/rfc/rfc5233)).
public struct DeliveryDirectory: Sendable, Hashable {
    /// Local domains, canonical form.
    public private(set) var localDomains: Set<String>
    /// User addresses (`local@domain`), canonical form.
    public private(set) var users: Set<String>
    /// Alias address to its targets, in the order given; canonical form.
    public private(set) var aliases: [String: [String]]
    /// Local domain to the address that receives its unknown local parts; canonical form.
    public private(set) var catchAll: [String: String]
    /// The subaddress delimiter; nil disables subaddressing.
    public var subaddressDelimiter: Character?
    /// Users whose quota differs from ``DeliveryConfiguration/quota`` (the users file's
    /// `userdb_quota_rule`), by canonical address.
    public private(set) var quotas: [String: MailboxQuota] = [:]

    /// Creates a directory. Addresses are put in canonical form; one without `@` is ignored by lookups.
    public init(
        localDomains: [String] = [],
        users: [String] = [],
        aliases: [String: [String]] = [:],
        catchAll: [String: String] = [:],
        subaddressDelimiter: Character? = "+"
    ) {
        self.localDomains = Set(localDomains.map(MailAddress.canonicalDomain))
        self.users = Set(users.map(MailAddress.canonicalAddress))
        var normalizedAliases: [String: [String]] = [:]
        for (key, targets) in aliases {
            normalizedAliases[MailAddress.canonicalAddress(key), default: []]
                .append(contentsOf: targets.map(MailAddress.canonicalAddress))
        }
        self.aliases = normalizedAliases
        var normalizedCatchAll: [String: String] = [:]
        for (domain, target) in catchAll {
            normalizedCatchAll[MailAddress.canonicalDomain(domain)] = MailAddress.canonicalAddress(target)
        }
        self.catchAll = normalizedCatchAll
        self.subaddressDelimiter = subaddressDelimiter
    }

    /// Adds a local domain.
    public mutating func addDomain(_ domain: String) {
        localDomains.insert(MailAddress.canonicalDomain(domain))
    }

    /// Adds a user (`local@domain`); its domain becomes local too.
    public mutating func addUser(_ address: String) {
        let key = MailAddress.canonicalAddress(address)
        users.insert(key)
        if let at = key.lastIndex(of: "@") { localDomains.insert(String(key[key.index(after: at)...])) }
    }

    /// Sets the quota of one user (`local@domain`), replacing the configured default for that user.
    public mutating func setQuota(_ quota: MailboxQuota, forUser address: String) {
        quotas[MailAddress.canonicalAddress(address)] = quota
    }

    /// The quota named for a user (canonical key), byte for byte; nil when the default applies.
    public func quota(forUser key: String) -> MailboxQuota? {
        MailAddress.lookup(key, in: quotas)
    }

    /// Adds targets to an alias.
    public mutating func addAlias(_ address: String, targets: [String]) {
        aliases[MailAddress.canonicalAddress(address), default: []].append(contentsOf: targets.map(MailAddress.canonicalAddress))
    }

    /// Sets (or with nil removes) the catch-all of a local domain.
    public mutating func setCatchAll(domain: String, target: String?) {
        catchAll[MailAddress.canonicalDomain(domain)] = target.map(MailAddress.canonicalAddress)
    }

    /// True when `domain` is a local domain (canonical forms, byte for byte).
    public func isLocal(domain: String) -> Bool {
        MailAddress.contains(MailAddress.canonicalDomain(domain), in: localDomains)
    }

    /// True when `key` (canonical, from ``key(localPart:domain:)``) is a user, byte for byte.
    public func hasUser(_ key: String) -> Bool {
        MailAddress.contains(key, in: users)
    }

    /// The targets of the alias `key` (canonical), byte for byte; nil when there is no such alias.
    public func aliasTargets(_ key: String) -> [String]? {
        MailAddress.lookup(key, in: aliases)
    }

    /// The catch-all target of `domain`, byte for byte in canonical form; nil when it has none.
    public func catchAllTarget(domain: String) -> String? {
        MailAddress.lookup(MailAddress.canonicalDomain(domain), in: catchAll)
    }

    /// The lookup key of an address: `local@domain` in canonical form (``MailAddress/canonical``).
    public static func key(localPart: String, domain: String) -> String {
        MailAddress(localPart: localPart, domain: domain).canonical
    }
}
