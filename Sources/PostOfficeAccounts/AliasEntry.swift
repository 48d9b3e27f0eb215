// AliasEntry: one alias of the alias table: a key (an address, a bare name, or `@domain` for a catch-all)
// and the addresses mail to it goes to. Keys and targets are validated and made canonical like user names.

/// One alias: mail for ``key`` goes to every one of ``targets``.
///
/// Key forms:
/// - `alias@example.test`: that address only (Postfix virtual(5) style).
/// - `postmaster`: a bare name, meaning that name at **every** local domain (like aliases(5), which applies
///   to every domain the host receives for). An explicit address key for the same address wins.
/// - `@example.test`: the catch-all for the domain (virtual(5)): mail for any address there that is
///   neither a user nor an alias.
///
/// Targets are addresses; a bare target name means that name at the domain the key matched
/// (`postmaster: root` sends postmaster@a.test to root@a.test). Pipes, files and `:include:` are not
/// supported: PostOffice only delivers to mailboxes.
public struct AliasEntry: Hashable, Sendable {
    /// What a key matches.
    public enum Key: Hashable, Sendable, CustomStringConvertible {
        /// One full address.
        case address(String)
        /// A local part at every local domain.
        case name(String)
        /// Every otherwise unknown address of a domain.
        case catchAll(domain: String)

        /// Parses and normalizes a key as written in the file.
        public init(parsing text: String) throws(AccountsError) {
            if text.hasPrefix("@") {
                self = .catchAll(domain: try AccountName.normalizedDomain(String(text.dropFirst())))
            } else if text.contains("@") {
                self = .address(try AccountName.normalizedAddress(text))
            } else {
                self = .name(try AccountName.normalizedLocalPart(text))
            }
        }

        /// The key as written: `alias@example.test`, `postmaster`, `@example.test`.
        public var description: String {
            switch self {
            case .address(let address): address
            case .name(let name): name
            case .catchAll(let domain): "@" + domain
            }
        }
    }

    /// What the alias matches.
    public var key: Key
    /// Normalized targets, `local@domain` or a bare `local` (completed with the key's domain).
    public var targets: [String]

    /// Makes an entry from file text; validates and lowercases key and targets.
    /// - Throws: ``AccountsError/invalidName(_:reason:)`` for a bad key or target.
    public init(key: String, targets: [String]) throws(AccountsError) {
        self.key = try Key(parsing: key)
        guard !targets.isEmpty else { throw .invalidName(key, reason: "alias has no targets") }
        self.targets = []
        for target in targets {
            self.targets.append(try Self.normalizedTarget(target))
        }
    }

    /// The targets for mail to this alias at `domain`: bare names get `@domain`.
    public func targets(atDomain domain: String) -> [String] {
        targets.map { $0.contains("@") ? $0 : $0 + "@" + domain }
    }

    /// The table line: `key<TAB>a, b` for addresses and catch-alls, `name: a, b` for bare names.
    public var line: String {
        let list = targets.joined(separator: ", ")
        if case .name(let name) = key { return "\(name): \(list)" }
        return "\(key)\t\(list)"
    }

    static func normalizedTarget(_ text: String) throws(AccountsError) -> String {
        if text.hasPrefix("|") || text.hasPrefix("/") || text.lowercased().hasPrefix(":include:") {
            throw .invalidName(text, reason: "only addresses are supported as targets (no pipes, files or :include:)")
        }
        if text.hasPrefix("@") { throw .invalidName(text, reason: "a target needs a local part") }
        return text.contains("@") ? try AccountName.normalizedAddress(text) : try AccountName.normalizedLocalPart(text)
    }
}
