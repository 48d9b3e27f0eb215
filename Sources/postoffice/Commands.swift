// Commands: the subcommand table of the `postoffice` tool and the help text.

import PostOffice

enum Commands {
    static let version = "postoffice 0.1.0"

    static let help = """
        Usage: postoffice [serve] [options]          serve SMTP and POP3 (the default)
               postoffice user add|del|passwd ADDRESS [--password-stdin]
               postoffice user list
               postoffice alias add ALIAS TARGET[,TARGET...] | alias del ALIAS | alias list
               postoffice deliver --to ADDRESS [--to ADDRESS...] [--from ADDRESS] < message
               postoffice check                      validate the config and print the effective settings

        Options:
          --data DIR         data folder (default ./postoffice-data): config, users, aliases, mail/
          --config FILE      config file (default DIR/postoffice.conf)
          --smtp HOST:PORT   SMTP listener, repeatable (default 127.0.0.1:2525; port 0 picks a free one)
          --pop3 HOST:PORT   POP3 listener, repeatable (default 127.0.0.1:1100)
          --domain D         a domain to accept mail for, repeatable (localhost is always local)
          --hostname NAME    our host name for greetings and Received: headers
          --verbose          log the protocol trace (passwords redacted)
          --help, --version

        Signals: SIGHUP reloads users and aliases; SIGTERM and SIGINT shut down gracefully.
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            if arguments.first != "deliver" {
                print(help)
                return 0
            }
        }
        if arguments == ["--version"] || arguments.first == "version" {
            print(version)
            return 0
        }
        let options = try CommandLineOptions(arguments)
        var words = options.rest
        let command = words.isEmpty ? "serve" : words.removeFirst()
        switch command {
        case "serve":
            guard words.isEmpty else { throw UsageError("serve takes no arguments, got '\(words[0])'") }
            return try ServeCommand(options: options).run()
        case "check":
            guard words.isEmpty else { throw UsageError("check takes no arguments, got '\(words[0])'") }
            return try CheckCommand(options: options).run()
        case "user":
            return try UserCommand(options: options, words: words).run()
        case "alias":
            return try AliasCommand(options: options, words: words).run()
        case "deliver":
            return try DeliverShellCommand(options: options, words: words).run()
        default:
            throw UsageError("unknown command '\(command)' (see postoffice --help)")
        }
    }
}
