// RelaySettings: the options of `postoffice-bench relay` — rounds, message count, loads (sizes and
// sessions), which MTAs to run, ports, the postoffice binary and where the results go.

import Foundation

/// Options of the `relay` subcommand.
struct RelaySettings {
    static let help = """
        Usage: postoffice-bench relay [options]
          --rounds N          interleaved rounds (default 3); every MTA runs every load once per round
          --quick             1 round, 300 messages per load
          --count N           messages per load (default 2000)
          --sessions LIST     concurrent client sessions, comma separated (default 10,50)
          --sizes LIST        message sizes in bytes (default 1024,10240)
          --targets LIST      postoffice,postfix (default both)
          --no-latency        only the smtp-source runs (no tagged latency runs)
          --postoffice PATH   the postoffice binary (default .build/release/postoffice)
          --results DIR       where relay.jsonl, logs and summary.md go (default .build/bench-results/relay-<UTC time>)
          --keep              leave the servers running and the state directory in place
        Each load runs twice per MTA and round: smtp-source → MTA → smtp-sink (msg/s from smtp-source's start
        until the sink has every message, CPU of the MTA's process tree per message), then the benchmark's own
        client with one tagged message per send (latency from the MTA's 250 to the sink's receipt: the sink's
        dump file time). Ports: PostOffice SMTP 2755 (POP3 1355), Postfix 2655; sinks on 127.0.0.2:2756 and
        127.0.0.2:2656. Needs root (Postfix) and the postfix package (smtp-source, smtp-sink).
        """

    var rounds = 3
    var isQuick = false
    var count = 2000
    var sessions = [10, 50]
    var sizes = [1024, 10240]
    var targets = ["postoffice", "postfix"]
    var measuresLatency = true
    var postofficeBinary = ".build/release/postoffice"
    var resultsDirectory: String
    var keepsServers = false
    var showsHelp = false

    var postofficeSMTPPort: UInt16 = 2755
    var postofficePOP3Port: UInt16 = 1355
    var postofficeSinkPort: UInt16 = 2756
    var postfixSMTPPort: UInt16 = 2655
    var postfixSinkPort: UInt16 = 2656

    init(_ arguments: [String]) throws {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        resultsDirectory = ".build/bench-results/" + String(
            format: "relay-%04d%02d%02d-%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
        var countGiven = false
        var iterator = arguments.makeIterator()
        func value(_ option: String) throws -> String {
            guard let v = iterator.next() else { throw BenchmarkError("\(option) needs a value") }
            return v
        }
        func number(_ option: String) throws -> Int {
            let text = try value(option)
            guard let n = Int(text), n > 0 else { throw BenchmarkError("\(option) \(text): expected a positive number") }
            return n
        }
        func numbers(_ option: String) throws -> [Int] {
            let text = try value(option)
            let list = text.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
            guard !list.isEmpty, list.count == text.split(separator: ",").count else {
                throw BenchmarkError("\(option) \(text): expected positive numbers separated by commas")
            }
            return list
        }
        while let argument = iterator.next() {
            switch argument {
            case "--rounds": rounds = try number(argument)
            case "--quick": isQuick = true
            case "--count":
                count = try number(argument)
                countGiven = true
            case "--sessions": sessions = try numbers(argument)
            case "--sizes": sizes = try numbers(argument)
            case "--targets":
                targets = try value(argument).split(separator: ",").map(String.init)
                guard !targets.isEmpty, Set(targets).isSubset(of: ["postoffice", "postfix"]) else {
                    throw BenchmarkError("--targets: postoffice, postfix")
                }
            case "--no-latency": measuresLatency = false
            case "--postoffice": postofficeBinary = try value(argument)
            case "--results": resultsDirectory = try value(argument)
            case "--keep": keepsServers = true
            case "--help", "-h": showsHelp = true
            default: throw BenchmarkError("relay: unknown option \(argument) (see relay --help)")
            }
        }
        if isQuick {
            if !countGiven { count = 300 }
            if !arguments.contains("--rounds") { rounds = 1 }
        }
    }
}
