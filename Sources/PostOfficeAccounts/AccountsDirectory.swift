// AccountsDirectory: a snapshot of who receives mail here (domains, user addresses, aliases, catch-alls),
// flattened to plain strings and dictionaries so the delivery module can use it without this module.

/// What delivery needs to know about accounts, as plain data.
///
/// Built from the configured local domains, a ``UserDatabase`` and an ``AliasTable``: bare-name aliases
/// are expanded at every local domain (an explicit `name@domain` key wins over the expansion), bare
/// targets get the key's domain, and `@domain` keys become ``catchAll`` entries. Recipient resolution
/// (alias chains, loops, precedence of users over aliases) is delivery's job, not this type's.
public struct AccountsDirectory: Hashable, Sendable {
    /// The local domains, lowercased.
    public var domains: Set<String>
    /// Every user's address, lowercased (`alice@example.test`).
    public var userAddresses: Set<String>
    /// Alias address → target addresses, in file order, all lowercased full addresses.
    public var aliases: [String: [String]]
    /// Domain → targets for mail to otherwise unknown addresses of that domain.
    public var catchAll: [String: [String]]

    /// Wraps already-normalized data (for tests and other sources of accounts).
    public init(
        domains: Set<String>, userAddresses: Set<String>, aliases: [String: [String]] = [:],
        catchAll: [String: [String]] = [:]
    ) {
        self.domains = domains
        self.userAddresses = userAddresses
        self.aliases = aliases
        self.catchAll = catchAll
    }

    /// Flattens users and aliases for the given local domains.
    /// - Throws: ``AccountsError/invalidName(_:reason:)`` when a configured domain is not a valid domain.
    public init(domains: some Sequence<String>, users: UserDatabase, aliases table: AliasTable) throws(AccountsError) {
        var normalizedDomains: Set<String> = []
        for domain in domains { normalizedDomains.insert(try AccountName.normalizedDomain(domain)) }
        var aliases: [String: [String]] = [:]
        var catchAll: [String: [String]] = [:]
        // Expansions of bare names first, so explicit address keys overwrite them.
        for entry in table.entries {
            if case .name(let name) = entry.key {
                for domain in normalizedDomains { aliases[name + "@" + domain] = entry.targets(atDomain: domain) }
            }
        }
        for entry in table.entries {
            switch entry.key {
            case .address(let address):
                let domain = String(address[address.index(after: address.lastIndex(of: "@") ?? address.startIndex)...])
                aliases[address] = entry.targets(atDomain: domain)
            case .catchAll(let domain):
                catchAll[domain] = entry.targets(atDomain: domain)
            case .name:
                continue
            }
        }
        self.init(
            domains: normalizedDomains, userAddresses: Set(users.users.map(\.name)), aliases: aliases,
            catchAll: catchAll)
    }

    /// Things an administrator probably wants to fix, one sentence each, sorted: users, aliases and
    /// catch-alls outside the local domains, and aliases that have the same address as a user.
    public var problems: [String] {
        var found: [String] = []
        func domain(of address: String) -> String {
            guard let at = address.lastIndex(of: "@") else { return "" }
            return String(address[address.index(after: at)...])
        }
        for user in userAddresses where !domains.contains(domain(of: user)) {
            found.append("user \(user) is not in a local domain")
        }
        for alias in aliases.keys {
            if !domains.contains(domain(of: alias)) { found.append("alias \(alias) is not in a local domain") }
            if userAddresses.contains(alias) { found.append("alias \(alias) has the same address as a user") }
        }
        for domain in catchAll.keys where !domains.contains(domain) {
            found.append("catch-all @\(domain) is not for a local domain")
        }
        return found.sorted()
    }
}
