// AliasCommand: `postoffice alias add|del|list` — edits the aliases file in place (locked, atomic rewrite);
// refuses to replace an alias without --replace and to add a loop; a running server sees it after SIGHUP.

import PostOffice

struct AliasCommand {
    let options: CommandLineOptions
    let words: [String]

    func run() throws -> Int32 {
        let setup = Setup(options: options)
        try setup.requireDataDirectory()
        let configuration = try setup.configuration()
        let accounts = AccountAdministration(configuration: configuration)
        let replace = words.contains("--replace")
        let words = self.words.filter { $0 != "--replace" }
        guard let action = words.first else { throw UsageError("alias needs add, del or list (see postoffice alias --help)") }
        guard !replace || action == "add" else { throw UsageError("--replace belongs to alias add") }
        switch action {
        case "list":
            guard words.count == 1 else { throw UsageError("alias list takes no arguments") }
            for line in try accounts.aliasLines() { print(line) }
        case "add":
            guard words.count >= 3 else { throw UsageError("alias add needs ALIAS and at least one TARGET (see postoffice alias --help)") }
            let key = words[1]
            let targets = words.dropFirst(2).flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
            let change: AccountAdministration.AliasChange
            do {
                change = try accounts.addAlias(key, targets: targets, replacing: replace)
            } catch let refusal as AccountAdministration.AliasRefusal {
                switch refusal {
                case .exists:
                    throw UsageError("\(refusal): use `postoffice alias add --replace` to change it, or `alias del` first")
                case .loop:
                    throw UsageError("\(refusal): point it at a user from `postoffice user list`")
                }
            }
            for warning in change.warnings { printError("postoffice: warning: \(warning)") }
            if let replaced = change.replacedTargets {
                print("\(change.key) -> \(targets.joined(separator: ", ")) (replaced \(replaced.joined(separator: ", ")))")
            } else {
                print("\(change.key) -> \(targets.joined(separator: ", "))")
            }
            RunningServer.reloadAfterChange(dataDirectory: options.dataDirectory)
        case "del":
            guard words.count == 2 else { throw UsageError("alias del needs exactly one ALIAS") }
            try accounts.removeAlias(words[1])
            print("removed \(words[1])")
            RunningServer.reloadAfterChange(dataDirectory: options.dataDirectory)
        default:
            throw UsageError("unknown alias action '\(action)': use add, del or list (see postoffice alias --help)")
        }
        return 0
    }
}
