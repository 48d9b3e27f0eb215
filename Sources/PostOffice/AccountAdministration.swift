// AccountAdministration: the users and aliases files as an operator edits them (the CLI's `user` and
// `alias` commands, or an embedder's admin page): locked atomic rewrites, password hashing, and the loop
// check an alias must pass before it is saved. A running server sees the change on its next reload.

import PostOfficeAccounts
import PostOfficeCore

/// Edits the users file (Dovecot passwd-file) and the aliases file (Postfix virtual(5) style) of a
/// configuration. Every change locks the file, rewrites it atomically and leaves it untouched on an error.
/// Errors are ``AccountAdministration/AliasRefusal`` or the accounts library's own (their description
/// names the file, line or name at fault).
public struct AccountAdministration: Sendable {
    /// The users file (``PostOfficeConfiguration/usersFile``).
    public var usersFile: String
    /// The aliases file (``PostOfficeConfiguration/aliasesFile``).
    public var aliasesFile: String
    /// The configured local domains (the users file's domains are local too).
    public var domains: [String]

    /// Administration of the files `configuration` names.
    public init(configuration: PostOfficeConfiguration) {
        usersFile = configuration.usersFile
        aliasesFile = configuration.aliasesFile
        domains = configuration.domains
    }

    /// Why ``addAlias(_:targets:replacing:)`` refused to save.
    public enum AliasRefusal: Error, Hashable, Sendable, CustomStringConvertible {
        /// The alias exists and `replacing` was false: its key and current targets.
        case exists(key: String, targets: [String])
        /// The alias would lead back to an address on its path that is not a user: the path.
        case loop(key: String, path: [String])

        public var description: String {
            switch self {
            case .exists(let key, let targets): "alias \(key) already exists (-> \(targets.joined(separator: ", ")))"
            case .loop(let key, let path): "alias \(key) would loop (\(path.joined(separator: " -> "))) without reaching a user"
            }
        }
    }

    /// What ``addAlias(_:targets:replacing:)`` saved.
    public struct AliasChange: Hashable, Sendable {
        /// The alias key as stored (lower-cased: `info@example.test`, `postmaster`, `@example.test`).
        public var key: String
        /// The targets it had before, when it replaced an alias.
        public var replacedTargets: [String]?
        /// Targets that receive nothing: outside the local domains, or neither a user nor an alias.
        public var warnings: [String]
    }

    // MARK: Users

    /// The user names (addresses) in file order. Throws when the file is missing or does not parse.
    public func userNames() throws -> [String] {
        try UserDatabase.load(from: usersFile).users.map(\.name)
    }

    /// Adds a user with `password` (hashed with the default scheme). Fails when the user exists.
    public func addUser(_ address: String, password: String) throws {
        let hash = try PasswordHash.generate(password: password, random: SystemRandomSource())
        try UserDatabase.edit(usersFile) { try $0.add(UserAccount(name: address, passwordHash: hash)) }
    }

    /// Sets a user's password (hashed with the default scheme). Fails when there is no such user.
    public func setPassword(_ password: String, forUser address: String) throws {
        let hash = try PasswordHash.generate(password: password, random: SystemRandomSource())
        try UserDatabase.edit(usersFile) { try $0.setPasswordHash(hash, forUser: address) }
    }

    /// Removes a user from the users file (its Maildir is kept). Fails when there is no such user.
    public func removeUser(_ address: String) throws {
        try UserDatabase.edit(usersFile) { try $0.remove(named: address) }
    }

    /// `password` hashed for a users file line: `{SCHEME}hash`.
    public static func passwordHash(for password: String) throws -> String {
        try PasswordHash.generate(password: password, random: SystemRandomSource()).storedForm
    }

    // MARK: Aliases

    /// The aliases file's entries as lines (`key targets`); a missing file has none.
    public func aliasLines() throws -> [String] {
        let table = FileSystem.fileExists(atPath: aliasesFile) ? try AliasTable.load(from: aliasesFile) : AliasTable(file: aliasesFile)
        return table.entries.map(\.line)
    }

    /// Adds the alias `key` → `targets`, or changes its targets when `replacing`. Refuses (throws
    /// ``AliasRefusal``) an existing alias without `replacing`, and an alias that would come back to itself
    /// without reaching a user; nothing is written then.
    public func addAlias(_ key: String, targets: [String], replacing: Bool) throws -> AliasChange {
        let users = FileSystem.fileExists(atPath: usersFile) ? try UserDatabase.load(from: usersFile) : UserDatabase(file: usersFile)
        let localDomains = Set(domains.map { $0.lowercased() }).union(users.localDomains)
        var warnings: [String] = []
        let replaced = try AliasTable.edit(aliasesFile) { table -> [String]? in
            let old = table.entry(forKey: key)
            if let old {
                guard replacing else { throw AliasRefusal.exists(key: old.key.description, targets: old.targets) }
                try table.setTargets(targets, forKey: key)
            } else {
                try table.add(AliasEntry(key: key, targets: targets))
            }
            let directory = try AccountsDirectory(domains: localDomains, users: users, aliases: table)
            let graph = AliasGraph(directory: directory)
            guard let entry = table.entry(forKey: key) else { return old?.targets }
            for start in graph.addresses(of: entry.key) {
                if let loop = graph.loop(from: start) { throw AliasRefusal.loop(key: entry.key.description, path: loop) }
            }
            warnings = graph.warnings(for: entry.key)
            return old?.targets
        }
        let shown = (try? AliasEntry(key: key, targets: targets)).map { $0.key.description } ?? key
        return AliasChange(key: shown, replacedTargets: replaced, warnings: warnings)
    }

    /// Removes the alias `key`. Fails when there is no such alias.
    public func removeAlias(_ key: String) throws {
        try AliasTable.edit(aliasesFile) { try $0.remove(key: key) }
    }
}
