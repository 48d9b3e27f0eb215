// CommandLineOptions: parses the global options shared by the subcommands (--data, --config, --smtp, ...).
// Bad arguments become a UsageError: one line naming the problem, exit code 2.

import PostOffice

/// A bad command line or config: printed as one line, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The options common to every subcommand, and the words left for the subcommand.
struct CommandLineOptions {
    var dataDirectory = "./postoffice-data"
    var configFile: String?
    var smtpListeners: [SocketAddress] = []
    var pop3Listeners: [SocketAddress] = []
    var submissionListeners: [SocketAddress] = []
    var metricsListeners: [SocketAddress] = []
    var domains: [String] = []
    var hostname: String?
    var isVerbose = false
    var passwordFromStandardInput = false
    /// Subcommand words and their own options, in order.
    var rest: [String] = []

    init(_ arguments: [String]) throws(UsageError) {
        var iterator = arguments.makeIterator()
        func value(for option: String) throws(UsageError) -> String {
            guard let v = iterator.next(), !v.hasPrefix("--") else { throw UsageError("\(option) needs a value") }
            return v
        }
        func address(for option: String) throws(UsageError) -> SocketAddress {
            let text = try value(for: option)
            guard let a = SocketAddress(parsing: text) else {
                let problem = ConfigurationFile.listenerProblem(text)
                if problem.contains("out of range") { throw UsageError("\(option) \(problem)") }
                throw UsageError("\(option) \(text): expected HOST:PORT with a literal IP address, e.g. 127.0.0.1:2525 or [::1]:2525")
            }
            return a
        }
        while let argument = iterator.next() {
            var argument = argument
            var inlineValue: String?
            if argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") {
                inlineValue = String(argument[argument.index(after: eq)...])
                argument = String(argument[..<eq])
                // Re-feed the inline value through the same code path.
                var again = [inlineValue!]
                again.append(contentsOf: Array(IteratorSequence(iterator)))
                iterator = again.makeIterator()
            }
            switch argument {
            case "--data": dataDirectory = try value(for: argument)
            case "--config": configFile = try value(for: argument)
            case "--smtp": smtpListeners.append(try address(for: argument))
            case "--pop3": pop3Listeners.append(try address(for: argument))
            case "--submission": submissionListeners.append(try address(for: argument))
            case "--metrics": metricsListeners.append(try address(for: argument))
            case "--domain": domains.append(try value(for: argument).lowercased())
            case "--hostname": hostname = try value(for: argument)
            case "--verbose", "-v": isVerbose = true
            case "--password-stdin": passwordFromStandardInput = true
            default:
                if argument.hasPrefix("-") && argument != "-" && !Self.passThrough.contains(argument) {
                    throw UsageError("unknown option \(argument) (see postoffice --help)")
                }
                rest.append(argument)
            }
        }
    }

    /// Options that belong to a subcommand (deliver's, alias add's, queue list's) and are passed on untouched.
    static let passThrough: Set<String> = ["--to", "--from", "--help", "-h", "--version", "--replace", "--json", "--selector", "--algorithm"]
}
