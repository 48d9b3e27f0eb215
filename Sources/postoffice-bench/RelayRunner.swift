// RelayRunner: `postoffice-bench relay` — PostOffice (release binary, outbound delivery through a relayhost)
// and a private Postfix relay the same loads to an smtp-sink each on 127.0.0.2, interleaved in rounds. Per
// MTA, load and round: an smtp-source run (msg/s until the sink has every message, CPU of the MTA's
// process tree per message) and a tagged run with RelayClient (latency from the MTA's 250 to the sink's
// receipt). Loopback only; PostOffice gets a closed loopback DNS server; every wait is bounded.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs the relay benchmark and writes relay.jsonl, run.log and summary.md.
struct RelayRunner {
    let settings: RelaySettings

    static let sender = "sender@example.test"
    /// A domain neither MTA serves: both relay it to their relayhost.
    static let recipient = "sink@relay.test"
    /// Seconds any one wait (the sink's count, an empty queue) may take.
    static let waitSeconds = 120.0

    /// One MTA under test.
    final class Target {
        let label: String
        let smtpPort: UInt16
        let sink: RelaySink
        let rootPid: () -> pid_t?
        let queuedCount: () -> Int

        init(label: String, smtpPort: UInt16, sink: RelaySink, rootPid: @escaping () -> pid_t?, queuedCount: @escaping () -> Int) {
            self.label = label
            self.smtpPort = smtpPort
            self.sink = sink
            self.rootPid = rootPid
            self.queuedCount = queuedCount
        }
    }

    func run() throws {
        let fm = FileManager.default
        guard let smtpSource = Subprocess.find("smtp-source"), Subprocess.find("smtp-sink") != nil else {
            throw BenchmarkError("smtp-source and smtp-sink (Debian package postfix) are needed")
        }
        if settings.targets.contains("postoffice") && !fm.isExecutableFile(atPath: settings.postofficeBinary) {
            throw BenchmarkError("\(settings.postofficeBinary) not found: run `swift build -c release --product postoffice` first")
        }
        guard getuid() == 0 || !settings.targets.contains("postfix") else {
            throw BenchmarkError("relay runs a Postfix instance: run it as root (or --targets postoffice)")
        }
        let results = (settings.resultsDirectory as NSString).standardizingPath
        try fm.createDirectory(atPath: results, withIntermediateDirectories: true)
        var template = Array("/tmp/postoffice-bench-relay.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchmarkError("mkdtemp failed") }
        let state = String(cString: made)
        chmod(state, 0o755)
        let log = RunLog(path: results + "/run.log")
        log.line("# postoffice-bench relay \(CommandLine.arguments.dropFirst(2).joined(separator: " "))")
        log.line("# state \(state), results \(results), load average \(CompareRunner.loadAverage()), "
                 + "\(ProcessInfo.processInfo.activeProcessorCount) cores")

        var sinks: [RelaySink] = []
        var server: PostOfficeProcess?
        var postfix: PostfixRelay?
        var floorProcess: pid_t?
        defer {
            if !settings.keepsServers {
                server?.stop()
                if let floorProcess {
                    kill(floorProcess, SIGKILL)
                    _ = Subprocess.wait(floorProcess)
                }
                postfix?.stop()
                for sink in sinks { sink.stop() }
                try? fm.removeItem(atPath: state)
            } else {
                log.line("# --keep: servers and sinks left running; state in \(state)")
            }
        }

        var targets: [Target] = []
        for name in settings.targets {
            if name == "postoffice" {
                let sink = try RelaySink(port: settings.postofficeSinkPort, stateDirectory: state, label: "postoffice")
                sinks.append(sink)
                try sink.start()
                let process = PostOfficeProcess(
                    binary: settings.postofficeBinary, dataDirectory: state + "/postoffice", smtpPort: settings.postofficeSMTPPort,
                    pop3Port: settings.postofficePOP3Port, log: log, logFile: results + "/postoffice-server.log")
                server = process
                // Outbound on, everything to the sink; DNS on a closed loopback port so nothing asks the machine's.
                try process.prepare(users: ["alice"], domain: "example.test", password: "secret", extraConfiguration: """
                    deliver_outbound = yes
                    relay_networks = 127.0.0.0/8
                    relayhost = 127.0.0.2:\(settings.postofficeSinkPort)
                    dns_servers = 127.0.0.1:1
                    smtp_tls_security_level = none

                    """)
                try process.start()
                let queue = state + "/postoffice/queue/messages"
                targets.append(Target(label: "postoffice", smtpPort: settings.postofficeSMTPPort, sink: sink,
                                      rootPid: { [weak process] in process?.pid },
                                      queuedCount: { (try? FileManager.default.contentsOfDirectory(atPath: queue))?.count ?? 0 }))
                log.line("## PostOffice \(settings.postofficeBinary) up: SMTP 127.0.0.1:\(settings.postofficeSMTPPort), "
                         + "relayhost smtp-sink \(sink.host):\(sink.port)")
            } else if name == "floor" {
                // The relay floor: this binary's floor-server, queueing durably and sending on from memory.
                let sink = try RelaySink(port: settings.floorSinkPort, stateDirectory: state, label: "floor")
                sinks.append(sink)
                try sink.start()
                let root = state + "/floor"
                let executable = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
                let pid = try Subprocess.start(executable, ["floor-server", "--port", "\(settings.floorSMTPPort)", "--root", root,
                                                            "--relay-to", "\(sink.host):\(sink.port)"],
                                               logFile: results + "/floor-server.log")
                floorProcess = pid
                guard Subprocess.waitForPort(settings.floorSMTPPort, seconds: 10) else { throw BenchmarkError("floor-server did not start") }
                let queue = root + "/queue"
                targets.append(Target(label: "floor", smtpPort: settings.floorSMTPPort, sink: sink, rootPid: { pid },
                                      queuedCount: { (try? FileManager.default.contentsOfDirectory(atPath: queue))?.count ?? 0 }))
                log.line("## floor \(executable) floor-server --relay-to \(sink.host):\(sink.port) up: SMTP 127.0.0.1:\(settings.floorSMTPPort)")
            } else {
                let sink = try RelaySink(port: settings.postfixSinkPort, stateDirectory: state, label: "postfix")
                sinks.append(sink)
                try sink.start()
                let relay = PostfixRelay(directory: state + "/postfix", smtpPort: settings.postfixSMTPPort, sinkPort: settings.postfixSinkPort)
                postfix = relay
                try relay.start()
                targets.append(Target(label: "postfix", smtpPort: settings.postfixSMTPPort, sink: sink,
                                      rootPid: { [weak relay] in relay?.masterPid() },
                                      queuedCount: { [weak relay] in relay?.queuedCount() ?? 0 }))
                log.line("## Postfix (config \(relay.configDirectory)) up: SMTP 127.0.0.1:\(settings.postfixSMTPPort), "
                         + "relayhost smtp-sink \(sink.host):\(sink.port)")
            }
        }
        // Warm-up and probe: a few messages through each MTA must reach its sink.
        for target in targets {
            let base = target.sink.receivedCount()
            let probe = RelayClient(port: target.smtpPort, sessions: 1, count: 3, size: 1024, sender: Self.sender,
                                    recipient: Self.recipient, runTag: "probe-\(target.label)", timeoutSeconds: 30).run()
            guard probe.acknowledged.count == 3, target.sink.waitForCount(base + 3, seconds: 30) else {
                throw BenchmarkError("\(target.label) did not relay the probe messages to its sink "
                                     + "(\(probe.firstError ?? "accepted \(probe.acknowledged.count)/3"); see \(results))")
            }
            _ = waitForEmptyQueue(target)
            _ = target.sink.harvest()
            log.line("## \(target.label) relays to its sink")
        }

        var runs: [RelayRun] = []
        let jsonPath = results + "/relay.jsonl"
        _ = FileManager.default.createFile(atPath: jsonPath, contents: nil)  // nil handle below: no JSON, the table still prints
        let json = FileHandle(forWritingAtPath: jsonPath)
        func record(_ run: RelayRun) {
            runs.append(run)
            log.line(run.summary)
            if let data = try? JSONSerialization.data(withJSONObject: run.dictionary, options: [.sortedKeys]) {
                json?.write(data + Data("\n".utf8))
            }
        }
        var loads: [(size: Int, sessions: Int)] = []
        for size in settings.sizes {
            for sessions in settings.sessions { loads.append((size, sessions)) }
        }
        for round in 1...settings.rounds {
            log.line("## round \(round)/\(settings.rounds), load average \(CompareRunner.loadAverage())")
            let ordered = round % 2 == 1 ? targets : targets.reversed()
            for load in loads {
                for target in ordered {
                    try server?.ensureRunning()
                    record(try throughputRun(target, size: load.size, sessions: load.sessions, round: round, smtpSource: smtpSource))
                    if settings.measuresLatency {
                        record(try latencyRun(target, size: load.size, sessions: load.sessions, round: round))
                    }
                }
            }
        }
        json?.closeFile()
        let summary = RelayTable(runs: runs, settings: settings).render()
        log.line("")
        log.block(summary, prefix: "")
        try summary.write(toFile: results + "/summary.md", atomically: true, encoding: .utf8)
        log.line("results in \(results)")
    }

    /// Waits until the MTA's queue is empty (bounded); false on timeout.
    private func waitForEmptyQueue(_ target: Target) -> Bool {
        let deadline = MonotonicClock.now() + UInt64(Self.waitSeconds * 1e9)
        while target.queuedCount() > 0 {
            if MonotonicClock.now() > deadline { return false }
            usleep(5000)
        }
        return true
    }

    /// smtp-source → MTA → sink: wall time from smtp-source's start until the sink counted every message; CPU
    /// of the MTA's process tree from the start until its queue is empty again (its bookkeeping after the
    /// last delivery included).
    private func throughputRun(_ target: Target, size: Int, sessions: Int, round: Int, smtpSource: String) throws -> RelayRun {
        var run = RelayRun(label: target.label, kind: "smtp-source", size: size, sessions: sessions, round: round, count: settings.count)
        guard waitForEmptyQueue(target) else { throw BenchmarkError("\(target.label): queue not empty after \(Int(Self.waitSeconds)) s") }
        _ = target.sink.harvest()
        let base = target.sink.receivedCount()
        let root = target.rootPid()
        let cpuBefore = root.map { ProcessTree.cpuMilliseconds(root: $0) }
        run.loadAverage = CompareRunner.loadAverage()
        let start = MonotonicClock.now()
        let outcome = try Subprocess.run(smtpSource, [
            "-l", "\(size)", "-m", "\(settings.count)", "-s", "\(sessions)", "-f", Self.sender, "-t", Self.recipient,
            "127.0.0.1:\(target.smtpPort)",
        ])
        run.acceptSeconds = MonotonicClock.seconds(since: start)
        if outcome.status != 0 { run.error = "smtp-source status \(outcome.status): \(outcome.output.suffix(300))" }
        let complete = target.sink.waitForCount(base + settings.count, seconds: Self.waitSeconds)
        let elapsed = MonotonicClock.seconds(since: start)
        run.received = target.sink.receivedCount() - base
        if complete { run.wallSeconds = elapsed } else if run.error == nil { run.error = "timeout: the sink got \(run.received)/\(settings.count)" }
        if !waitForEmptyQueue(target), run.error == nil { run.error = "queue not empty after the run" }
        if let root, let cpuBefore { run.cpuMilliseconds = ProcessTree.cpuMilliseconds(root: root) - cpuBefore }
        run.dumps = target.sink.harvest().count
        return run
    }

    /// RelayClient → MTA → sink with one tag per message: latency from the 250 the client read to the sink's
    /// dump file time, for every message found in both.
    private func latencyRun(_ target: Target, size: Int, sessions: Int, round: Int) throws -> RelayRun {
        var run = RelayRun(label: target.label, kind: "latency", size: size, sessions: sessions, round: round, count: settings.count)
        guard waitForEmptyQueue(target) else { throw BenchmarkError("\(target.label): queue not empty after \(Int(Self.waitSeconds)) s") }
        _ = target.sink.harvest()
        let base = target.sink.receivedCount()
        let root = target.rootPid()
        let cpuBefore = root.map { ProcessTree.cpuMilliseconds(root: $0) }
        run.loadAverage = CompareRunner.loadAverage()
        let start = MonotonicClock.now()
        let client = RelayClient(port: target.smtpPort, sessions: sessions, count: settings.count, size: size,
                                 sender: Self.sender, recipient: Self.recipient,
                                 runTag: "\(target.label)-\(size)-\(sessions)-\(round)").run()
        run.acceptSeconds = MonotonicClock.seconds(since: start)
        if let error = client.firstError { run.error = "client: \(error)" }
        let complete = target.sink.waitForCount(base + client.acknowledged.count, seconds: Self.waitSeconds)
        let elapsed = MonotonicClock.seconds(since: start)
        run.received = target.sink.receivedCount() - base
        if complete && client.acknowledged.count == settings.count { run.wallSeconds = elapsed }
        if !complete, run.error == nil { run.error = "timeout: the sink got \(run.received)/\(client.acknowledged.count)" }
        if !waitForEmptyQueue(target), run.error == nil { run.error = "queue not empty after the run" }
        if let root, let cpuBefore { run.cpuMilliseconds = ProcessTree.cpuMilliseconds(root: root) - cpuBefore }
        let dumps = target.sink.harvest()
        run.dumps = dumps.count
        var latencies: [Double] = []
        for dump in dumps {
            guard let tag = dump.tag, let acknowledged = client.acknowledged[tag] else { continue }
            latencies.append(Double(dump.receivedNanoseconds - acknowledged) / 1e6)
        }
        run.relayLatencies = latencies.sorted()
        run.commitLatencies = client.commitLatencies.map { $0 * 1000 }.sorted()
        return run
    }
}

/// One measured run of one MTA.
struct RelayRun {
    var label: String
    /// "smtp-source" (throughput and CPU) or "latency" (RelayClient with tagged messages).
    var kind: String
    var size: Int
    var sessions: Int
    var round: Int
    var count: Int
    var loadAverage = ""
    /// Until the client had every 250.
    var acceptSeconds: Double?
    /// Until the sink had every message; nil when the run failed.
    var wallSeconds: Double?
    var received = 0
    var dumps = 0
    var cpuMilliseconds: Int?
    /// 250 → sink receipt, milliseconds, sorted (latency runs).
    var relayLatencies: [Double] = []
    /// Final "." → 250, milliseconds, sorted (latency runs).
    var commitLatencies: [Double] = []
    var error: String?

    var isComplete: Bool { error == nil && wallSeconds != nil }
    var messagesPerSecond: Double? { wallSeconds.map { Double(count) / $0 } }
    var cpuPerMessage: Double? { isComplete ? cpuMilliseconds.map { Double($0) / Double(count) } : nil }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        return sorted[min(sorted.count - 1, Int(p / 100 * Double(sorted.count)))]
    }

    var loadName: String { "\(size >= 1024 ? "\(size / 1024) KB" : "\(size) B") × \(sessions) sessions" }

    var summary: String {
        func ms(_ value: Double?) -> String { value.map { Formatting.fixed($0, decimals: 1) } ?? "–" }
        var text = "\(label.padding(toLength: 10, withPad: " ", startingAt: 0)) \(kind.padding(toLength: 11, withPad: " ", startingAt: 0)) "
            + "\(loadName): \(messagesPerSecond.map(Formatting.rate) ?? "–") msg/s, "
            + "CPU \(cpuPerMessage.map { Formatting.fixed($0, decimals: 2) } ?? "–") ms/msg, sink got \(received)/\(count) (\(dumps) files)"
        if kind == "latency" {
            text += ", 250→sink p50 \(ms(Self.percentile(relayLatencies, 50))) p99 \(ms(Self.percentile(relayLatencies, 99))) ms"
                + " (\(relayLatencies.count) matched), dot→250 p50 \(ms(Self.percentile(commitLatencies, 50))) ms"
        }
        if let error { text += " — \(error)" }
        return text
    }

    var dictionary: [String: Any] {
        var out: [String: Any] = [
            "label": label, "kind": kind, "size": size, "sessions": sessions, "round": round, "count": count,
            "received": received, "dump_files": dumps, "loadavg": loadAverage, "status": error ?? "ok",
        ]
        if let acceptSeconds { out["accept_s"] = acceptSeconds }
        if let wallSeconds { out["wall_s"] = wallSeconds }
        if let rate = messagesPerSecond { out["msgs_per_s"] = rate }
        if let cpuMilliseconds { out["server_cpu_ms"] = cpuMilliseconds }
        if kind == "latency" {
            for (name, list) in [("relay", relayLatencies), ("commit", commitLatencies)] {
                if let p50 = Self.percentile(list, 50), let p99 = Self.percentile(list, 99) {
                    out["\(name)_p50_ms"] = p50
                    out["\(name)_p99_ms"] = p99
                    out["\(name)_max_ms"] = list.last
                }
            }
            out["relay_matched"] = relayLatencies.count
        }
        return out
    }
}
