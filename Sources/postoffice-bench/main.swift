// postoffice-bench: benchmark harness for PostOffice. `micro` times the engines in memory; `copy` times the
// ways of copying one message to many recipients on disk; `compare` runs
// the same SMTP and POP3 loads (and `floor` against the floor-server: only the durable writes) against PostOffice, Postfix, Dovecot and aiosmtpd on loopback; `latency`
// is the SMTP client that measures the time from the final dot to the 250 reply; `relay` runs PostOffice and
// Postfix as relays to smtp-sink (throughput, CPU, 250-to-sink latency); `idle` holds thousands of
// silent SMTP connections and reads the server's memory while one active client is timed.

#if canImport(Glibc)
import Glibc
#endif

let usage = """
    Usage: postoffice-bench micro [--quick] [--only smtp,pop3,maildir,crlf,dkim,spf,dkimrsa]
           postoffice-bench copy [--size BYTES] [--recipients N] [--directory PATH] [--quick]
           postoffice-bench compare [--rounds N] [--quick] [--only LIST] [--postoffice PATH] [--keep]
           postoffice-bench floor [compare options]
           postoffice-bench floor-server --port P --root DIR [--pid-file FILE]
           postoffice-bench latency --port P [--sessions 50] [--count 2000] [--size 1024]
                                    [--to alice@example.test] [--from a@example.test]
           postoffice-bench relay [--rounds N] [--quick] [--sessions 10,50] [--sizes 1024,10240] [--count N]
           postoffice-bench idle [--connections 10000[,N...]] [--rounds 3] [--messages 500] [--postoffice PATH]

      micro     engine micro-benchmarks in memory (build with -c release), median of 5 runs
      copy      one delivery commit to many recipients per copy method (copyBody, hardLink), fsyncs
                included, and the raw copies under it (copy_file_range, read/write, link), median of 5
                (`copy --help`)
      compare   PostOffice vs Postfix / aiosmtpd (SMTP) and Dovecot (POP3), interleaved rounds; SMTP loads
                1 KB and 10 KB x 10 and 50 sessions, 100 KB x 50, 10 KB x 10 x 5 recipients
                (see BenchmarkSettings for every option; `compare --help`)
      floor     `compare --targets floor,postoffice,postfix --only smtp,rcpts,fsync` unless told otherwise:
                the same loads against the floor (canned SMTP replies, then only create/write/fsync/link/
                fsync(new/)), PostOffice and Postfix in one run, with ratios to the floor
      floor-server  the floor itself, for a manual run
      latency   SMTP load with per-message latency from the final "." to the 250 reply (p50/p99)
      relay     smtp-source → MTA → smtp-sink on 127.0.0.2: PostOffice (outbound through a relayhost) vs a
                private Postfix, interleaved rounds; msg/s, CPU ms/msg, p50/p99 from the MTA's 250 to the
                sink's receipt (`relay --help`)
      idle      holds N idle SMTP connections (greeting and EHLO read, then silent; sources 127.0.0.2-250)
                against a fresh release server per round, and reports its RSS (VmRSS, RssAnon, VmHWM),
                threads and descriptors, and one active client's dot-to-250 p50/p99 (500 messages of 1 KB)
                with the connections held and, as a control, without them. Raises RLIMIT_NOFILE
                to the hard limit for itself and the server. Target: 10,000 held, peak RSS <= 150 MB,
                p99 < 50 ms (`idle --help`)
    """

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    print(usage)
    exit(2)
}
do {
    switch command {
    case "micro":
        let quick = arguments.contains("--quick")
        #if DEBUG
        print("warning: this is a debug build; run `swift run -c release postoffice-bench micro`")
        #endif
        print("| benchmark | median | min – max (5 runs) |")
        print("|---|---:|---:|")
        let groups = arguments.firstIndex(of: "--only").flatMap { index in
            index + 1 < arguments.count ? Set(arguments[index + 1].split(separator: ",").map(String.init)) : nil
        }
        _ = MicroBenchmarks(scale: quick ? 0.1 : 1.0, groups: groups).run { measurement in
            print("| \(measurement.name) | \(Formatting.rate(measurement.median)) \(measurement.unit) | "
                  + "\(Formatting.rate(measurement.minimum)) – \(Formatting.rate(measurement.maximum)) |")
            fflush(nil)
        }
    case "copy":
        let options = Array(arguments.dropFirst())
        if options.contains("--help") {
            print(CopyBenchmarks.help)
            break
        }
        let benchmark = try CopyBenchmarks(options)
        print("\(benchmark.bodySize) bytes to \(benchmark.recipientCount) recipients in \(benchmark.directory)")
        print("| measurement | median | min – max (5 runs) |")
        print("|---|---:|---:|")
        try benchmark.run { name, times in
            func ms(_ seconds: Double) -> String { Formatting.fixed(seconds * 1000, decimals: 2) }
            print("| \(name) | \(ms(times[times.count / 2])) ms | \(ms(times[0])) – \(ms(times[times.count - 1])) ms |")
            fflush(nil)
        }
    case "compare":
        let settings = try BenchmarkSettings(Array(arguments.dropFirst()))
        if settings.showsHelp {
            print(BenchmarkSettings.help)
        } else {
            try CompareRunner(settings: settings).run()
        }
    case "floor":
        var options = Array(arguments.dropFirst())
        if !options.contains("--targets") { options += ["--targets", "floor,postoffice,postfix"] }
        if !options.contains("--only") { options += ["--only", "smtp,rcpts,fsync"] }
        let settings = try BenchmarkSettings(options)
        if settings.showsHelp {
            print(BenchmarkSettings.help)
        } else {
            try CompareRunner(settings: settings).run()
        }
    case "floor-server":
        try FloorServer.main(Array(arguments.dropFirst()))
    case "latency":
        let options = try LatencyClient.Options(Array(arguments.dropFirst()))
        let result = try LatencyClient(options: options).run()
        print(result.summary)
    case "relay":
        let settings = try RelaySettings(Array(arguments.dropFirst()))
        if settings.showsHelp {
            print(RelaySettings.help)
        } else {
            try RelayRunner(settings: settings).run()
        }
    case "idle":
        let settings = try IdleSettings(Array(arguments.dropFirst()))
        if settings.showsHelp {
            print(IdleSettings.help)
        } else {
            try IdleRunner(settings: settings).run()
        }
    case "--help", "-h", "help":
        print(usage)
    default:
        print(usage)
        exit(2)
    }
} catch {
    var text = "postoffice-bench: \(error)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}
