// SendmailCommand: `postoffice sendmail` (or the tool run through a symbolic link named `sendmail`) — the
// Sendmail contract for cron, scripts, PHP mail(), mail(1) and git send-email: message on standard input,
// sysexits(3) status. It delivers through the library, whether or not `postoffice serve` is running.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct SendmailCommand {
    /// The arguments after `sendmail`.
    let arguments: [String]

    /// sysexits(3).
    static let exitUsage: Int32 = 64
    static let exitConfiguration: Int32 = ConfigurationProblem.exitStatus

    /// Where the data folder comes from for callers that cannot pass `--data` (PHP, cron, git).
    static let dataEnvironmentVariable = "POSTOFFICE_DATA"

    static let usage = "usage: postoffice sendmail [-t] [-i] [-f sender] [-F name] [--data DIR] [recipient...] < message (see postoffice sendmail --help)"

    static let help = """
        Usage: postoffice sendmail [-t] [-i] [-f SENDER] [-F NAME] [--data DIR] [--config FILE] [RECIPIENT...] < message
               sendmail ...           (the same, through a symbolic link named sendmail)

        Reads one message from standard input and delivers it into local Maildirs, with the server's users,
        aliases and layout, through the same all-or-nothing, fsync'd delivery as SMTP: exit 0 means stored.
        It works whether or not `postoffice serve` is running. The data folder is --data DIR, else
        $POSTOFFICE_DATA, else ./postoffice-data. Run as root with run_as_user set, it switches to that user
        first, so the stored files belong to the server.

        Options:
          -t          recipients also from the To:, Cc: and Bcc: headers (Resent-To/Cc/Bcc when present)
          -i, -oi     a line holding only "." does not end the message (without it, it does)
          -f SENDER   envelope sender (Return-Path); -fSENDER too; -f '<>' for none. Default: your login name
                      at the host name (hostname in the config), like Postfix's user@myorigin
          -F NAME     full name for a generated From:
          --data DIR, --config FILE   as for every postoffice command
        Ignored (harmless): -odi -odb and other -o options, -oem, -bm, -v, -m, -n, -G, -U, -x, -c, -B TYPE,
          -C FILE, -h HOPS, -L LABEL, -N DSN, -R RET, -V ENVID, -X FILE, -p PROTO, -e MODE.
        Refused: -bs, -bp, -bi and other modes, -q, -I.

        A bare name (root) is qualified with the host name when it is a local domain, else localhost.
        Date:, From: and Message-ID: are added when missing; Bcc: is always removed. The header block may
        be 1 MiB at most; the body is streamed. With deliver_outbound = yes, recipients in other domains go
        into the outbound queue (durable before exit 0), then a running server is asked through its control
        socket to pick them up at once; if it cannot be reached (not running, or the socket belongs to
        another user) it sends them at its next queue run (queue_run_interval). With deliver_outbound = no
        they are refused (75).
        A message whose From: domain has DKIM keys (postoffice dkim generate) is signed before it is stored.

        Exit status (sysexits(3)):
          0   delivered to every recipient
          64  EX_USAGE     bad command line, or no recipient
          65  EX_DATAERR   bad message: empty, NUL byte, header block over 1 MiB, mail loop, too big,
                           -t found no recipient or a bad address
          67  EX_NOUSER    no such user (nothing is delivered)
          75  EX_TEMPFAIL  try again later (disk full, another domain without deliver_outbound)
          78  EX_CONFIG    data folder, config or users file missing or unusable

        Examples:
          printf 'Subject: hi\\n\\nhello\\n' | postoffice sendmail --data /var/lib/postoffice alice@example.test
          ln -s /usr/local/bin/postoffice /usr/sbin/sendmail      (POSTOFFICE_DATA=/var/lib/postoffice in the environment)
          php.ini: sendmail_path = "/usr/sbin/sendmail -t -i"
          git send-email --sendmail-cmd='postoffice sendmail --data /var/lib/postoffice' ...
        """

    /// True when the program was started under the name `sendmail` (argv[0]'s last path component).
    static func isInvokedAsSendmail(_ argumentZero: String?) -> Bool {
        guard let argumentZero else { return false }
        return argumentZero.split(separator: "/").last == "sendmail"
    }

    /// The sendmail arguments when the tool's `arguments` name the sendmail command (its first word, after
    /// any global options and their values), or nil. Sendmail's options (-t, -i, -f...) are not the tool's,
    /// so they are parsed here before the tool's option parser sees them.
    static func arguments(in arguments: [String]) -> [String]? {
        let takesValue: Set<String> = ["--data", "--config", "--smtp", "--pop3", "--domain", "--hostname"]
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "sendmail" {
                var rest = arguments
                rest.remove(at: index)
                return rest
            }
            guard word.hasPrefix("-") else { return nil }
            index += takesValue.contains(word) ? 2 : 1
        }
        return nil
    }

    /// Runs the command; every refusal is one line on standard error and a sysexits status.
    func run() -> Int32 {
        let parsed: SendmailArguments
        switch SendmailArguments.parse(arguments) {
        case .failure(let error):
            Self.report("\(error.message)\n\(Self.usage)")
            return Self.exitUsage
        case .success(let value):
            parsed = value
        }
        if parsed.wantsHelp {
            print(Self.help)
            return 0
        }
        guard parsed.extractsRecipients || !parsed.recipients.isEmpty else {
            Self.report("no recipient: name one, or use -t to take them from the headers\n\(Self.usage)")
            return Self.exitUsage
        }
        // The login name before any switch to run_as_user: the mail is from whoever ran the command.
        let login = Self.loginName()
        let server: PostOfficeServer
        do {
            let configuration = try Self.configuration(parsed)
            if let user = configuration.runAsUser, geteuid() == 0 {
                // Stored files must belong to the server's user, or POP3 cannot read or move them.
                try Privileges.drop(to: user)
            }
            server = try PostOfficeServer(configuration: configuration, logSink: StandardErrorLogSink(minimumLevel: .warning))
        } catch {
            Self.report("\(error)")
            return Self.exitConfiguration
        }

        let hostname = server.configuration.hostname
        let sender: MailAddress?
        switch parsed.sender {
        case .invokingUser:
            sender = MailAddress(localPart: login, domain: hostname)
        case .null:
            sender = nil
        case .given(let text):
            guard let address = AddressListParser.single(text, defaultDomain: hostname) else {
                Self.report("-f: not an address: \(text)\n\(Self.usage)")
                return Self.exitUsage
            }
            sender = address
        }
        var recipients: [MailAddress] = []
        for text in parsed.recipients {
            let found = AddressListParser.parse(text, defaultDomain: server.submissionDomain)
            if let bad = found.invalid.first {
                Self.report("not an address: \(bad)\n\(Self.usage)")
                return Self.exitUsage
            }
            recipients += found.addresses
        }

        let options = PostOfficeServer.SubmitOptions(
            extractsRecipients: parsed.extractsRecipients, dotEndsInput: !parsed.ignoresDots, fullName: parsed.fullName)
        let result = server.submit(from: sender, to: recipients, options: options, readingFrom: STDIN_FILENO)
        if !result.isDelivered { Self.report("\(result.statusCode) \(result.reason)") }
        if result.isQueuedForOtherDomains { Self.askServerToPickUp(server.configuration) }
        return result.exitCode
    }

    /// How long each step of the pickup request (connect, send, read the answer) may take.
    static let pickupTimeoutMilliseconds = 1000

    /// The message is durably queued: asks a running server to pick it up now (`pickup` on its control
    /// socket) instead of at its next queue run. Best effort and silent: no server, a stale socket, a socket
    /// this user may not open (it is 0600, the server's user) or a slow answer changes nothing — the mail
    /// is queued and the server's periodic run (queue_run_interval) sends it.
    static func askServerToPickUp(_ configuration: PostOfficeConfiguration) {
        guard let path = configuration.controlSocketPath else { return }
        _ = ControlRequest.pickup.send(to: path, timeoutMilliseconds: pickupTimeoutMilliseconds)
    }

    /// The configuration, with the checks `postoffice deliver` makes (EX_CONFIG when they fail).
    static func configuration(_ parsed: SendmailArguments) throws -> PostOfficeConfiguration {
        var options = try CommandLineOptions([])
        options.configFile = parsed.configFile
        if let data = parsed.dataDirectory {
            options.dataDirectory = data
        } else if let data = getenv(dataEnvironmentVariable).map({ String(cString: $0) }), !data.isEmpty {
            options.dataDirectory = data
        }
        let setup = Setup(options: options)
        try setup.requireDataDirectory()
        let configuration = try setup.configuration()
        guard FileSystem.fileExists(atPath: configuration.usersFile) else {
            throw ConfigurationProblem(
                "no users file at \(configuration.usersFile): fix users_file in \(setup.configPath), or pass the right --data (or \(dataEnvironmentVariable))")
        }
        return configuration
    }

    /// The invoking user's login name (getpwuid(getuid()), as Postfix's sendmail), or the uid as a number.
    static func loginName() -> String {
        let uid = getuid()
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return String(uid) }
        let text = String(cString: name)
        return text.isEmpty ? String(uid) : text
    }

    /// One line on standard error.
    static func report(_ message: String) {
        printError("postoffice sendmail: \(message)")
    }
}
