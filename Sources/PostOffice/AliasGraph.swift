// AliasGraph: what `postoffice alias add` checks before it saves — whether an alias comes back to itself
// without reaching a user (mail to it would bounce as a loop), and targets that go nowhere.

import PostOfficeAccounts

/// The aliases of an ``AccountsDirectory`` as a graph, following the delivery rules: an alias is expanded
/// before a user of the same address, and a target already on the path is delivered when it is a user
/// (`alice: alice, archive` keeps a copy), else it is a loop.
struct AliasGraph {
    let directory: AccountsDirectory

    /// The addresses a key stands for: itself, a bare name at every local domain, or nothing for a catch-all
    /// (a catch-all only applies to unknown addresses, so it cannot be reached again through itself).
    func addresses(of key: AliasEntry.Key) -> [String] {
        switch key {
        case .address(let address): [address]
        case .name(let name): directory.domains.sorted().map { name + "@" + $0 }
        case .catchAll: []
        }
    }

    /// A path from `start` back to an address already on it that is not a user, or nil.
    func loop(from start: String) -> [String]? {
        func walk(_ address: String, _ path: [String]) -> [String]? {
            guard let targets = directory.aliases[address] else { return nil }
            for target in targets {
                if path.contains(target) || target == address {
                    if directory.userAddresses.contains(target) { continue }
                    return path + [address, target]
                }
                if let found = walk(target, path + [address]) { return found }
            }
            return nil
        }
        return walk(start, [])
    }

    /// Targets of `key` that may receive nothing: outside the local domains (forwarded only with
    /// deliver_outbound on), or neither a user nor an alias.
    func warnings(for key: AliasEntry.Key) -> [String] {
        var targets: [String] = []
        switch key {
        case .catchAll(let domain): targets = directory.catchAll[domain] ?? []
        default: targets = addresses(of: key).flatMap { directory.aliases[$0] ?? [] }
        }
        var out: [String] = []
        for target in Set(targets).sorted() {
            let domain = target.split(separator: "@").last.map(String.init) ?? ""
            if !directory.domains.contains(domain) {
                out.append("\(target) is not in a local domain: mail for it is forwarded through the outbound queue when deliver_outbound is on, and dropped otherwise")
            } else if !directory.userAddresses.contains(target) && directory.aliases[target] == nil {
                out.append("\(target) is neither a user nor an alias yet: add it with `postoffice user add \(target)`")
            }
        }
        return out
    }
}
