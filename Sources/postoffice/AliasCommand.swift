// AliasCommand: `postoffice alias add|del|list` — edits the aliases file in place (locked, atomic rewrite);
// refuses to replace an alias without --replace and to add a loop; a running server sees it after SIGHUP.

import PostOffice
import PostOfficeAccounts

struct AliasCommand {
    let options: CommandLineOptions
    let words: [String]

    func run() throws -> Int32 {
        let setup = Setup(options: options)
        try setup.requireDataDirectory()
        let configuration = try setup.configuration()
        let file = configuration.aliasesFile
        let replace = words.contains("--replace")
        let words = self.words.filter { $0 != "--replace" }
        guard let action = words.first else { throw UsageError("alias needs add, del or list (see postoffice alias --help)") }
        guard !replace || action == "add" else { throw UsageError("--replace belongs to alias add") }
        switch action {
        case "list":
            guard words.count == 1 else { throw UsageError("alias list takes no arguments") }
            let table = FileSystem.fileExists(atPath: file) ? try AliasTable.load(from: file) : AliasTable(file: file)
            for entry in table.entries { print(entry.line) }
        case "add":
            guard words.count >= 3 else { throw UsageError("alias add needs ALIAS and at least one TARGET (see postoffice alias --help)") }
            let key = words[1]
            let targets = words.dropFirst(2).flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
            let users = FileSystem.fileExists(atPath: configuration.usersFile)
                ? try UserDatabase.load(from: configuration.usersFile) : UserDatabase(file: configuration.usersFile)
            var warnings: [String] = []
            let replaced = try AliasTable.edit(file) { table -> [String]? in
                let old = table.entry(forKey: key)
                if let old {
                    guard replace else {
                        throw UsageError(
                            "alias \(old.key) already exists (-> \(old.targets.joined(separator: ", "))): "
                                + "use `postoffice alias add --replace` to change it, or `alias del` first")
                    }
                    try table.setTargets(targets, forKey: key)
                } else {
                    try table.add(AliasEntry(key: key, targets: targets))
                }
                let domains = Set(configuration.domains.map { $0.lowercased() }).union(users.localDomains)
                let directory = try AccountsDirectory(domains: domains, users: users, aliases: table)
                let check = AliasGraph(directory: directory)
                guard let entry = table.entry(forKey: key) else { return old?.targets }
                for start in check.addresses(of: entry.key) {
                    if let loop = check.loop(from: start) {
                        throw UsageError(
                            "alias \(entry.key) would loop (\(loop.joined(separator: " -> "))) without reaching a user: "
                                + "point it at a user from `postoffice user list`")
                    }
                }
                warnings = check.warnings(for: entry.key)
                return old?.targets
            }
            for warning in warnings { printError("postoffice: warning: \(warning)") }
            let shown = (try? AliasEntry(key: key, targets: targets)).map { $0.key.description } ?? key
            if let replaced {
                print("\(shown) -> \(targets.joined(separator: ", ")) (replaced \(replaced.joined(separator: ", ")))")
            } else {
                print("\(shown) -> \(targets.joined(separator: ", "))")
            }
            RunningServer.reloadAfterChange(dataDirectory: options.dataDirectory)
        case "del":
            guard words.count == 2 else { throw UsageError("alias del needs exactly one ALIAS") }
            try AliasTable.edit(file) { try $0.remove(key: words[1]) }
            print("removed \(words[1])")
            RunningServer.reloadAfterChange(dataDirectory: options.dataDirectory)
        default:
            throw UsageError("unknown alias action '\(action)': use add, del or list (see postoffice alias --help)")
        }
        return 0
    }
}
