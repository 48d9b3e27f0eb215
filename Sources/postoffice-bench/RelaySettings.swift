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
          --targets LIST      postoffice,postfix,floor (default the first two); floor is `floor-server
                              --relay-to`: only the durable queue write, the 250 and the send (20 connections)
          --no-latency        only the smtp-source runs (no tagged latency runs)
          --postoffice PATH   the postoffice binary (default .build/release/postoffice)
          --results DIR       where relay.jsonl, logs and summary.md go (default .build/bench-results/relay-<UTC time>)
          --keep              leave the servers running and the state directory in place
          --port-offset N     add N to every port below (two runs on one machine must not share them)
        Each load runs twice per MTA and round: smtp-source → MTA → smtp-sink (msg/s from smtp-source's start
        until the sink has every message, CPU of the MTA's process tree per message), then the benchmark's own
        client with one tagged message per send (latency from the MTA's 250 to the sink's receipt: the sink's
        dump file time). Ports: PostOffice SMTP 2755 (POP3 1355), Postfix 2655; sinks on 127.0.0.2:2756 and
        127.0.0.2:2656; the floor 2765, its sink 127.0.0.2:2766. Needs root (Postfix) and the postfix package (smtp-source, smtp-sink).
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
    var floorSMTPPort: UInt16 = 2765
    var floorSinkPort: UInt16 = 2766

    init(_ arguments: [String]) throws {
        resultsDirectory = ".build/bench-results/relay-" + OptionReader.timestamp()
        var countGiven = false
        var options = OptionReader(arguments)
        while let argument = options.next() {
            switch argument {
            case "--rounds": rounds = try options.number(argument)
            case "--quick": isQuick = true
            case "--count":
                count = try options.number(argument)
                countGiven = true
            case "--sessions": sessions = try options.numbers(argument)
            case "--sizes": sizes = try options.numbers(argument)
            case "--targets":
                targets = try options.value(argument).split(separator: ",").map(String.init)
                guard !targets.isEmpty, Set(targets).isSubset(of: ["postoffice", "postfix", "floor"]) else {
                    throw BenchmarkError("--targets: postoffice, postfix, floor")
                }
            case "--no-latency": measuresLatency = false
            case "--postoffice": postofficeBinary = try options.value(argument)
            case "--results": resultsDirectory = try options.value(argument)
            case "--keep": keepsServers = true
            case "--port-offset":
                // Another run of this benchmark on the same machine (another worktree) would share the ports.
                let offset: Int = try options.number(argument)
                guard (0...10_000).contains(offset) else { throw BenchmarkError("--port-offset: 0 to 10000") }
                postofficeSMTPPort += UInt16(offset)
                postofficePOP3Port += UInt16(offset)
                postofficeSinkPort += UInt16(offset)
                postfixSMTPPort += UInt16(offset)
                postfixSinkPort += UInt16(offset)
                floorSMTPPort += UInt16(offset)
                floorSinkPort += UInt16(offset)
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
