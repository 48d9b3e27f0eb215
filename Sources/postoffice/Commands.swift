// Commands: the subcommand table of the `postoffice` tool, its help text and each subcommand's own help
// (`postoffice SUBCOMMAND --help`).

import PostOffice

enum Commands {
    static let version = "postoffice 0.1.0"

    static let help = """
        Usage: postoffice [serve] [options]          serve SMTP and POP3 (the default)
               postoffice user add|del|passwd ADDRESS [--password-stdin]
               postoffice user list
               postoffice alias add [--replace] ALIAS TARGET[,TARGET...] | alias del ALIAS | alias list
               postoffice deliver --to ADDRESS [--to ADDRESS...] [--from ADDRESS] < message
               postoffice sendmail [-t] [-i] [-f SENDER] [RECIPIENT...] < message   (also as a link named sendmail)
               postoffice queue list [--json] | queue flush [DOMAIN]   the outbound queue (queue --help)
               postoffice queue show|hold|release|requeue|delete ID
               postoffice dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]   a signing key and its DNS record
               postoffice check                      validate the config and print the effective settings
               postoffice reload                     make the running server re-read its config, users, aliases
               postoffice COMMAND --help             options and examples of one command

        Options:
          --data DIR         data folder (default ./postoffice-data): config, users, aliases, mail/
          --config FILE      config file (default DIR/postoffice.conf)
          --smtp HOST:PORT   SMTP listener, repeatable (default 127.0.0.1:2525; port 0 picks a free one)
          --pop3 HOST:PORT   POP3 listener, repeatable (default 127.0.0.1:1100)
          --submission HOST:PORT  submission listener (AUTH, then any domain), repeatable (default 127.0.0.1:1587)
          --metrics HOST:PORT     Prometheus metrics at http://HOST:PORT/metrics, repeatable (default: off)
          --domain D         a domain to accept mail for, repeatable (localhost is always local)
          --hostname NAME    our host name for greetings and Received: headers
          --verbose          log the protocol trace (passwords redacted)
          --help, --version

        Exit status: 0 done, 1 failed, 2 bad command line or config file line,
                     78 (EX_CONFIG) data folder or files missing or unusable.
        Signals: SIGHUP (or `postoffice reload`) re-reads postoffice.conf, users and aliases and reopens log_file;
                 SIGTERM and SIGINT shut down gracefully.
        """

    /// The help of each subcommand.
    static let subcommandHelp: [String: String] = [
        "reload": ReloadCommand.help,
        "serve": """
            Usage: postoffice [serve] [--data DIR] [--config FILE] [--smtp HOST:PORT]... [--pop3 HOST:PORT]...
                                      [--domain D]... [--hostname NAME] [--verbose]

            Serves SMTP and POP3 until SIGTERM or SIGINT. The first start makes the data folder: a commented
            postoffice.conf, the users file with postmaster@localhost (its password is printed once), the aliases
            file, mail/ and a self-signed certificate in tls/. Started as root with run_as_user set, it binds the
            ports, then runs as that user; the data folder must belong to it (what the first start makes is given
            to it). SIGHUP or `postoffice reload` re-reads postoffice.conf, users and aliases and reopens log_file.

            Examples:
              postoffice serve --data /var/lib/postoffice --smtp 0.0.0.0:25 --pop3 0.0.0.0:110 --domain example.test
              postoffice --data ./po --smtp 127.0.0.1:0 --pop3 127.0.0.1:0      (free ports, printed at start)
            """,
        "check": """
            Usage: postoffice check [--data DIR] [--config FILE] [options]

            Reads the config file, the users and aliases files and the TLS certificate, and prints every
            effective setting as `key = value` (relative paths are inside the data folder). A mistake is one
            line naming FILE:LINE; exit 2. A missing data folder exits 78.

            Examples:
              postoffice check --data /var/lib/postoffice
              postoffice check --config /etc/postoffice.conf --data /var/lib/postoffice
            """,
        "user": """
            Usage: postoffice user add ADDRESS [--password-stdin]     add a user (asks the password twice)
                   postoffice user passwd ADDRESS [--password-stdin]  set a new password
                   postoffice user del ADDRESS                        remove a user (the Maildir is kept)
                   postoffice user list                               list the users
              (with --data DIR / --config FILE as for serve)

            Edits the users file (Dovecot passwd-file, users_file) in place; a running server sees the change
            at once (it is reloaded for you). --password-stdin reads the password from the first line of standard input.

            Examples:
              postoffice user add alice@example.test
              echo 'secret' | postoffice user passwd alice@example.test --password-stdin
            """,
        "alias": """
            Usage: postoffice alias add [--replace] ALIAS TARGET[,TARGET...]   add an alias
                   postoffice alias del ALIAS                               remove an alias
                   postoffice alias list                                    list the aliases
              (with --data DIR / --config FILE as for serve)

            ALIAS is an address (info@example.test), a bare name at every local domain (postmaster), or
            @domain, the catch-all for unknown users of that domain. Changing an existing alias needs --replace.
            An alias that leads back to itself without reaching a user is refused. A running server sees the
            change after SIGHUP.

            Examples:
              postoffice alias add info@example.test alice@example.test,bob@example.test
              postoffice alias add @example.test alice@example.test          (catch-all)
              postoffice alias add --replace info@example.test carol@example.test
            """,
        "deliver": DeliverShellCommand.help,
        "sendmail": SendmailCommand.help,
        "queue": QueueCommand.help,
        "dkim": DKIMCommand.help,
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        // sendmail's options (-t, -i, -f...) are not the tool's: it parses its own command line.
        if let sendmailArguments = SendmailCommand.arguments(in: arguments) { return SendmailCommand(arguments: sendmailArguments).run() }
        if arguments == ["--version"] || arguments.first == "version" {
            print(version)
            return 0
        }
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(arguments)
        } catch {
            // `postoffice --help` works even next to a mistake.
            if arguments.contains("--help") || arguments.contains("-h") {
                print(help)
                return 0
            }
            // An MTA reads deliver's status as sysexits(3): a bad command line is EX_USAGE, not 2.
            if arguments.contains("deliver") {
                DeliverShellCommand.report("\(error)\n\(DeliverShellCommand.usage)")
                return DeliverShellCommand.exitUsage
            }
            throw error
        }
        var words = options.rest
        let asksForHelp = words.contains("--help") || words.contains("-h")
        words.removeAll { $0 == "--help" || $0 == "-h" }
        if asksForHelp {
            print(words.first.flatMap { subcommandHelp[$0] } ?? help)
            return 0
        }
        let command = words.isEmpty ? "serve" : words.removeFirst()
        switch command {
        case "serve":
            guard words.isEmpty else { throw UsageError("serve takes no arguments, got '\(words[0])' (see postoffice serve --help)") }
            return try ServeCommand(options: options).run()
        case "reload":
            guard words.isEmpty else { throw UsageError("reload takes no arguments, got '\(words[0])' (see postoffice reload --help)") }
            return try ReloadCommand(options: options).run()
        case "check":
            guard words.isEmpty else { throw UsageError("check takes no arguments, got '\(words[0])' (see postoffice check --help)") }
            return try CheckCommand(options: options).run()
        case "user":
            return try UserCommand(options: options, words: words).run()
        case "alias":
            return try AliasCommand(options: options, words: words).run()
        case "deliver":
            return DeliverShellCommand(options: options, words: words).run()
        case "queue":
            return try QueueCommand(options: options, words: words).run()
        case "dkim":
            return try DKIMCommand(options: options, words: words).run()
        default:
            throw UsageError("unknown command '\(command)' (see postoffice --help)")
        }
    }
}
