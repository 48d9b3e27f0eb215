// SendmailArguments: the Sendmail command line as scripts, cron, PHP mail() and mail(1) use it — getopt-style
// options (`-ti`, `-fSENDER`, `-oi`), the harmless ones ignored, then recipients.

/// The parsed command line of `postoffice sendmail` (or `sendmail` through a symbolic link).
///
/// Understood: `-t`, `-i` and `-oi`, `-f SENDER` / `-fSENDER` (and the old `-r`), `-F NAME`, `-bm`, `--data DIR`,
/// `--config FILE`, `--help`, `--`. Accepted and ignored, as they change nothing here: `-odi`, `-odb` and every
/// other `-o` option, `-oem` and the error modes, `-v`, `-m`, `-n`, `-G`, `-U`, `-x`, `-c`, `-B TYPE`, `-C FILE`,
/// `-h HOPS`, `-L LABEL`, `-N DSN`, `-R RET`, `-V ENVID`, `-X LOGFILE`, `-p PROTO`, `-e MODE`. Refused (EX_USAGE):
/// other `-b` modes (`-bs`, `-bp`, `-bi`, `-bv`...), `-q`, `-I` and unknown letters. Options may be combined
/// (`-ti`) and may follow recipients (as with glibc's getopt); `--` ends them.
public struct SendmailArguments: Hashable, Sendable {
    /// The envelope sender as given.
    public enum Sender: Hashable, Sendable {
        /// No `-f`: the invoking user's login name at the host name.
        case invokingUser
        /// `-f <>` or `-f ''`: the null sender.
        case null
        /// `-f TEXT`: an address, or a bare name to qualify.
        case given(String)
    }

    public var sender: Sender = .invokingUser
    /// `-F`.
    public var fullName: String?
    /// `-t`.
    public var extractsRecipients = false
    /// `-i` / `-oi`.
    public var ignoresDots = false
    /// The recipient arguments as written (each may be a comma-separated list).
    public var recipients: [String] = []
    /// `--data`.
    public var dataDirectory: String?
    /// `--config`.
    public var configFile: String?
    /// `--help`.
    public var wantsHelp = false

    public init() {}

    /// Letters that take a value (glued `-fX` or the next argument).
    static let withValue: Set<Character> = ["B", "C", "F", "L", "N", "O", "R", "V", "X", "b", "e", "f", "h", "o", "p", "r"]
    /// Flags that change nothing here.
    static let ignoredFlags: Set<Character> = ["G", "U", "c", "m", "n", "v", "x"]

    /// Parses the arguments (after `sendmail`); a mistake is a message for EX_USAGE.
    public static func parse(_ arguments: [String]) -> Result<SendmailArguments, DeliverCommand.UsageError> {
        var parsed = SendmailArguments()
        var index = 0
        var optionsEnded = false
        func next(_ option: String) -> String? {
            guard index < arguments.count else { return nil }
            defer { index += 1 }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
                parsed.recipients.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            if argument.hasPrefix("--") {
                let name = String(argument.prefix { $0 != "=" })
                var value: String? = argument.contains("=") ? String(argument.drop { $0 != "=" }.dropFirst()) : nil
                switch name {
                case "--help":
                    parsed.wantsHelp = true
                case "--verbose":
                    break
                case "--data", "--config":
                    if value == nil { value = next(name) }
                    guard let value, !value.isEmpty else { return .failure(.init("\(name) needs a value")) }
                    if name == "--data" { parsed.dataDirectory = value } else { parsed.configFile = value }
                default:
                    return .failure(.init("unknown option \(name)"))
                }
                continue
            }
            // A getopt cluster: flags, until a letter that takes a value (the rest, or the next argument).
            var letters = Substring(argument.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                if withValue.contains(letter) {
                    let value: String
                    if !letters.isEmpty {
                        value = String(letters)
                    } else if let following = next(String(letter)) {
                        value = following
                    } else {
                        return .failure(.init("-\(letter) needs a value"))
                    }
                    letters = ""
                    if let problem = parsed.apply(letter, value) { return .failure(.init(problem)) }
                } else if letter == "t" {
                    parsed.extractsRecipients = true
                } else if letter == "i" {
                    parsed.ignoresDots = true
                } else if ignoredFlags.contains(letter) {
                    continue
                } else if letter == "q" || letter == "I" {
                    return .failure(.init("-\(letter) (queue runs, alias databases) is not supported: postoffice has no queue to run"))
                } else {
                    return .failure(.init("unknown option -\(letter)"))
                }
            }
        }
        return .success(parsed)
    }

    /// Applies an option with a value; returns a problem for EX_USAGE.
    private mutating func apply(_ letter: Character, _ value: String) -> String? {
        switch letter {
        case "f", "r":
            sender = value.isEmpty || value == "<>" ? .null : .given(value)
        case "F":
            fullName = value
        case "b":
            // -bm, "deliver mail the usual way", is the only mode.
            guard value == "m" else {
                return "-b\(value) is not supported: only -bm (read a message from standard input)"
            }
        case "o":
            if value == "i" { ignoresDots = true }  // other -o options (-odi, -oem, -oB...) change nothing here
        default:
            break  // -B, -C, -L, -N, -O, -R, -V, -X, -e, -h, -p: accepted, ignored
        }
        return nil
    }
}
