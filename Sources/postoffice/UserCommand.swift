// UserCommand: `postoffice user add|del|passwd|list` — edits the users file in place (locked, atomic
// rewrite); a running server picks the change up on SIGHUP.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct UserCommand {
    let options: CommandLineOptions
    let words: [String]

    func run() throws -> Int32 {
        let setup = Setup(options: options)
        guard let action = words.first else { throw UsageError("user needs add, del, passwd or list (see postoffice user --help)") }
        // `user add` may come before the first start; everything else needs the data folder and users file.
        if action != "add" { try setup.requireDataDirectory() }
        let configuration = try setup.configuration()
        let file = configuration.usersFile
        let accounts = AccountAdministration(configuration: configuration)
        if action == "add" {
            try FileSystem.createDirectory(atPath: configuration.dataDirectory, mode: 0o700)
        } else if !FileSystem.fileExists(atPath: file) {
            throw ConfigurationProblem(
                "no users file at \(file) (users_file in \(setup.configPath)): fix users_file, or add a user with `postoffice user add`")
        }
        switch action {
        case "list":
            guard words.count == 1 else { throw UsageError("user list takes no arguments") }
            for name in try accounts.userNames() { print(name) }
        case "add", "passwd":
            guard words.count == 2 else { throw UsageError("user \(action) needs exactly one ADDRESS") }
            let name = words[1]
            guard MailAddress(name) != nil else { throw UsageError("'\(name)' is not an address like alice@example.test") }
            let password = try readPassword()
            if action == "add" {
                try accounts.addUser(name, password: password)
            } else {
                try accounts.setPassword(password, forUser: name)
            }
            print(action == "add" ? "added \(name)" : "changed the password of \(name)")
            RunningServer.reloadAfterChange(dataDirectory: options.dataDirectory)
        case "del":
            guard words.count == 2 else { throw UsageError("user del needs exactly one ADDRESS") }
            try accounts.removeUser(words[1])
            print("removed \(words[1]) (its Maildir is kept)")
            RunningServer.reloadAfterChange(dataDirectory: options.dataDirectory)
        default:
            throw UsageError("unknown user action '\(action)': use add, del, passwd or list (see postoffice user --help)")
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
