// DeliverShellCommand: `postoffice deliver` on the command line — reads the config like the server, refuses
// with EX_CONFIG when the data folder or users file is missing (so the MTA retries instead of bouncing), and
// hands the message to the library's DeliverCommand.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct DeliverShellCommand {
    let options: CommandLineOptions
    let words: [String]

    /// sysexits(3) codes, as `PostOfficeServer.deliver` answers them.
    static let exitUsage: Int32 = 64
    static let exitConfiguration: Int32 = ConfigurationProblem.exitStatus

    static let usage = "usage: postoffice deliver [--data DIR] [--config FILE] --to ADDRESS [--to ADDRESS...] [--from ADDRESS] < message"

    static let help = """
        Usage: postoffice deliver [--data DIR] [--config FILE] --to ADDRESS [--to ADDRESS...] [--from ADDRESS] < message

        Delivers one message from standard input into local Maildirs, with the server's users, aliases and
        layout (a local delivery agent like dovecot-lda; -d and -f are accepted too). The data folder is
        ./postoffice-data unless --data says otherwise: an MTA runs this from its own directory, so give
        --data (or --config) as an absolute path.

        Options:
          --data DIR        data folder (default ./postoffice-data)
          --config FILE     config file (default DIR/postoffice.conf)
          --to ADDRESS      a recipient (repeatable; -d ADDRESS, or plain ADDRESS arguments, work too)
          --from ADDRESS    the envelope sender (Return-Path); empty or <> for a bounce

        Exit status (sysexits(3), as Postfix's pipe(8) and Exim read them):
          0   delivered to every recipient
          64  EX_USAGE     bad command line
          65  EX_DATAERR   bad message: empty, NUL byte, mail loop, too big
          67  EX_NOUSER    no such user (a permanent bounce)
          75  EX_TEMPFAIL  try again later (disk full, a lock; over quota with quota_full_tempfail = yes)
          77  EX_NOPERM    mailbox over quota (the user must delete mail), as dovecot-lda -e
          78  EX_CONFIG    data folder, config or users file missing or unusable (try again after fixing it)

        Examples:
          postoffice deliver --data /var/lib/postoffice --to alice@example.test --from bob@example.net < message.eml
          Postfix master.cf:  postoffice unix - n n - - pipe
            flags=DRhu user=vmail argv=/usr/local/bin/postoffice deliver --data /var/lib/postoffice --from ${sender} --to ${recipient}
        """

    /// Runs the delivery; every refusal is one line on standard error and a sysexits status.
    func run() -> Int32 {
        let arguments = words.map { word -> String in
            switch word {
            case "--to": return "-d"
            case "--from": return "-f"
            default: return word
            }
        }
        let setup = Setup(options: options)
        let server: PostOfficeServer
        do {
            try setup.requireDataDirectory()
            let configuration = try setup.configuration()
            guard FileSystem.fileExists(atPath: configuration.usersFile) else {
                throw ConfigurationProblem("no users file at \(configuration.usersFile): fix users_file in \(setup.configPath), or pass the right --data")
            }
            server = try PostOfficeServer(configuration: configuration, logSink: StandardErrorLogSink(minimumLevel: .warning))
        } catch {
            Self.report("\(error)")
            return Self.exitConfiguration
        }
        return server.deliver(standardInput: 0, arguments: arguments)
    }

    /// One line on standard error, prefixed like the library's own deliver messages.
    static func report(_ message: String) {
        printError("postoffice deliver: \(message)")
    }
}
