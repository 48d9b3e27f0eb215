// ConfigurationProblem: a setup the command cannot work with — a missing or unreadable data folder, a data
// folder run_as_user cannot write, a missing users file. One line naming what and what to do; exit 78.

/// A configuration problem outside the config file's syntax: printed as one line, exit status 78
/// (EX_CONFIG of sysexits(3), which Postfix's pipe(8) and most MTAs treat as "try again later").
struct ConfigurationProblem: Error, CustomStringConvertible {
    static let exitStatus: Int32 = 78

    let description: String
    init(_ message: String) { description = message }
}
