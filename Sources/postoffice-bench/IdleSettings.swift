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
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        resultsDirectory = ".build/bench-results/idle-" + String(
            format: "%04d%02d%02d-%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
        var iterator = arguments.makeIterator()
        func value(_ option: String) throws -> String {
            guard let v = iterator.next() else { throw BenchmarkError("\(option) needs a value") }
            return v
        }
        func number(_ option: String, _ text: String) throws -> Int {
            guard let n = Int(text), n > 0 else { throw BenchmarkError("\(option) \(text): expected a positive number") }
            return n
        }
        func port(_ option: String) throws -> UInt16 {
            guard let p = UInt16(try value(option)), p > 0 else { throw BenchmarkError("\(option): expected 1-65535") }
            return p
        }
        while let argument = iterator.next() {
            switch argument {
            case "--connections":
                connectionCounts = try value(argument).split(separator: ",").map { try number(argument, String($0)) }
                guard !connectionCounts.isEmpty else { throw BenchmarkError("--connections: give at least one count") }
            case "--rounds": rounds = try number(argument, try value(argument))
            case "--messages": messages = try number(argument, try value(argument))
            case "--size": size = try number(argument, try value(argument))
            case "--concurrency": concurrency = try number(argument, try value(argument))
            case "--hold":
                let text = try value(argument)
                guard let seconds = Int(text), (0...3000).contains(seconds) else { throw BenchmarkError("--hold \(text): expected 0-3000 seconds") }
                holdSeconds = seconds
            case "--batches":
                batches = try number(argument, try value(argument))
                guard batches <= 100 else { throw BenchmarkError("--batches: at most 100") }
            case "--no-hello": sendsHello = false
            case "--postoffice": postofficeBinary = try value(argument)
            case "--port": smtpPort = try port(argument)
            case "--pop3-port": pop3Port = try port(argument)
            case "--results": resultsDirectory = try value(argument)
            case "--help", "-h": showsHelp = true
            default: throw BenchmarkError("idle: unknown option \(argument) (see idle --help)")
            }
        }
    }
}
