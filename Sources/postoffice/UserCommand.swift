// AccountCommands: `postoffice user ...` and `postoffice alias ...` — edit the users and aliases files in
// place (locked, atomic rewrite); a running server picks the change up on SIGHUP.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice
import PostOfficeAccounts

struct UserCommand {
    let options: CommandLineOptions
    let words: [String]

    func run() throws -> Int32 {
        let configuration = try Setup(options: options).configuration()
        let file = configuration.usersFile
        try FileSystem.createDirectory(atPath: configuration.dataDirectory, mode: 0o700)
        guard let action = words.first else { throw UsageError("user needs add, del, passwd or list") }
        switch action {
        case "list":
            guard words.count == 1 else { throw UsageError("user list takes no arguments") }
            let database = FileSystem.fileExists(atPath: file) ? try UserDatabase.load(from: file) : UserDatabase(file: file)
            for user in database.users { print(user.name) }
        case "add", "passwd":
            guard words.count == 2 else { throw UsageError("user \(action) needs exactly one ADDRESS") }
            let name = words[1]
            guard MailAddress(name) != nil else { throw UsageError("'\(name)' is not an address like alice@example.test") }
            let password = try readPassword()
            let hash = try PasswordHash.generate(password: password, random: SystemRandomSource())
            try UserDatabase.edit(file) { database in
                if action == "add" {
                    try database.add(UserAccount(name: name, passwordHash: hash))
                } else {
                    try database.setPasswordHash(hash, forUser: name)
                }
            }
            print(action == "add" ? "added \(name)" : "changed the password of \(name)")
        case "del":
            guard words.count == 2 else { throw UsageError("user del needs exactly one ADDRESS") }
            try UserDatabase.edit(file) { try $0.remove(named: words[1]) }
            print("removed \(words[1]) (its Maildir is kept)")
        default:
            throw UsageError("unknown user action '\(action)': use add, del, passwd or list")
        }
        return 0
    }

    /// The password from stdin (`--password-stdin`, first line) or typed twice at the terminal.
    private func readPassword() throws -> String {
        if options.passwordFromStandardInput || isatty(0) == 0 {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw UsageError("no password on standard input")
            }
            return line
        }
        guard let first = getpass("Password: ").map({ String(cString: $0) }), !first.isEmpty else {
            throw UsageError("empty password")
        }
        guard let second = getpass("Again: ").map({ String(cString: $0) }), second == first else {
            throw UsageError("the passwords differ")
        }
        return first
    }
}

struct AliasCommand {
    let options: CommandLineOptions
    let words: [String]

    func run() throws -> Int32 {
        let configuration = try Setup(options: options).configuration()
        let file = configuration.aliasesFile
        guard let action = words.first else { throw UsageError("alias needs add, del or list") }
        switch action {
        case "list":
            let table = FileSystem.fileExists(atPath: file) ? try AliasTable.load(from: file) : AliasTable(file: file)
            for entry in table.entries { print(entry.line) }
        case "add":
            guard words.count >= 3 else { throw UsageError("alias add needs ALIAS and at least one TARGET") }
            let targets = words.dropFirst(2).flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
            try AliasTable.edit(file) { table in
                if table.entry(forKey: words[1]) != nil {
                    try table.setTargets(targets, forKey: words[1])
                } else {
                    try table.add(AliasEntry(key: words[1], targets: targets))
                }
            }
            print("\(words[1]) -> \(targets.joined(separator: ", "))")
        case "del":
            guard words.count == 2 else { throw UsageError("alias del needs exactly one ALIAS") }
            try AliasTable.edit(file) { try $0.remove(key: words[1]) }
            print("removed \(words[1])")
        default:
            throw UsageError("unknown alias action '\(action)': use add, del or list")
        }
        return 0
    }
}

struct DeliverShellCommand {
    let options: CommandLineOptions
    let words: [String]

    /// `postoffice deliver --to A [--to B] [--from S] < message`; `--to`/`--from` become the delivery
    /// agent's `-d`/`-f` (dovecot-lda's spelling also works).
    func run() throws -> Int32 {
        if words.contains("--help") || words.contains("-h") {
            print("usage: postoffice deliver --to ADDRESS [--to ADDRESS...] [--from ADDRESS] < message")
            return 0
        }
        let arguments = words.map { word -> String in
            switch word {
            case "--to": return "-d"
            case "--from": return "-f"
            default: return word
            }
        }
        let configuration = try Setup(options: options).configuration()
        let server = try PostOfficeServer(configuration: configuration, logSink: StandardErrorLogSink(minimumLevel: .warning))
        return server.deliver(standardInput: 0, arguments: arguments)
    }
}
