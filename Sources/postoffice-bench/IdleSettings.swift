// IdleSettings: the options of `postoffice-bench idle` — how many idle connections (one or several
// counts), how many rounds, the active client's load, the ports, and where the binary and results are.

import Foundation

/// Options of the `idle` subcommand.
struct IdleSettings {
    static let help = """
        Usage: postoffice-bench idle [options]
          --connections LIST  idle SMTP connections to hold, comma separated (default 10000)
          --rounds N          fresh server per round and count (default 3); the table shows every round and the median
          --messages N        messages the active client sends in each latency run (default 500)
          --size N            their size in bytes (default 1024)
          --concurrency N     connections being opened at once (default 200)
          --hold SECONDS      time the idle connections sit untouched before the active client runs (default 5)
          --batches N         after the measured batch, open, hold 1 s and close N-1 more on the same server
                              (default 1): shows whether memory freed by closed connections is reused
          --no-hello          idle clients stop after the 220 greeting instead of after EHLO
          --postoffice PATH   the postoffice binary (default .build/release/postoffice)
          --port P            SMTP port of the server under test (default 2745; POP3 on --pop3-port, 1345)
          --results DIR       run.log and the server's log (default .build/bench-results/idle-<UTC time>)
        Each round starts the server with max_connections and connections_per_client above the count and
        an smtp_command_timeout an hour longer than --hold, sends the active client's messages once with no
        idle connections (the control), opens the idle connections from 127.0.0.2–250 and holds them,
        sends the same messages again, then closes everything and stops the server. It reads VmRSS,
        RssAnon, VmHWM and Threads from the server's /proc/PID/status, and raises RLIMIT_NOFILE to the
        hard limit (the server inherits it). Target (issue 6): 10,000 held, peak RSS <= 150 MB, p99 < 50 ms.
        """

    var connectionCounts = [10_000]
    var rounds = 3
    var messages = 500
    var size = 1024
    var concurrency = 200
    var holdSeconds = 5
    var batches = 1
    var sendsHello = true
    var postofficeBinary = ".build/release/postoffice"
    var smtpPort: UInt16 = 2745
    var pop3Port: UInt16 = 1345
    var resultsDirectory: String
    var showsHelp = false

    init(_ arguments: [String]) throws {
        resultsDirectory = ".build/bench-results/idle-" + OptionReader.timestamp()
        var options = OptionReader(arguments)
        while let argument = options.next() {
            switch argument {
            case "--connections":
                connectionCounts = try options.value(argument).split(separator: ",").map {
                    try OptionReader.positiveNumber(argument, String($0))
                }
                guard !connectionCounts.isEmpty else { throw BenchmarkError("--connections: give at least one count") }
            case "--rounds": rounds = try options.number(argument)
            case "--messages": messages = try options.number(argument)
            case "--size": size = try options.number(argument)
            case "--concurrency": concurrency = try options.number(argument)
            case "--hold":
                let text = try options.value(argument)
                guard let seconds = Int(text), (0...3000).contains(seconds) else { throw BenchmarkError("--hold \(text): expected 0-3000 seconds") }
                holdSeconds = seconds
            case "--batches":
                batches = try options.number(argument)
                guard batches <= 100 else { throw BenchmarkError("--batches: at most 100") }
            case "--no-hello": sendsHello = false
            case "--postoffice": postofficeBinary = try options.value(argument)
            case "--port": smtpPort = try options.port(argument)
            case "--pop3-port": pop3Port = try options.port(argument)
            case "--results": resultsDirectory = try options.value(argument)
            case "--help", "-h": showsHelp = true
            default: throw BenchmarkError("idle: unknown option \(argument) (see idle --help)")
            }
        }
    }
}
