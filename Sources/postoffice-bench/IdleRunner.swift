// IdleRunner: `postoffice-bench idle` — does PostOffice hold thousands of silent SMTP connections in
// little memory while an active client still gets its messages committed quickly? Per round and count it
// starts a fresh server, times the active client alone (the control), opens and holds the idle
// connections, times the active client again, then closes everything and stops the server.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs the idle-connections benchmark.
struct IdleRunner {
    let settings: IdleSettings

    /// The target the table is checked against (issue 6): 10,000 idle connections within 150 MB RSS while
    /// one active client gets p99 below 50 ms.
    static let residentLimitMegabytes = 150.0
    static let p99LimitMilliseconds = 50.0
    /// Descriptors beyond the idle connections that each side needs (listeners, Maildir files, logs).
    static let descriptorMargin = 256

    func run() throws {
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: settings.postofficeBinary) else {
            throw BenchmarkError("\(settings.postofficeBinary) not found: run `swift build -c release --product postoffice` first")
        }
        let results = (settings.resultsDirectory as NSString).standardizingPath
        try fm.createDirectory(atPath: results, withIntermediateDirectories: true)
        let log = RunLog(path: results + "/run.log")
        log.line("# postoffice-bench idle \(CommandLine.arguments.dropFirst(2).joined(separator: " "))")
        #if DEBUG
        log.line("warning: this is a debug build of postoffice-bench; build it with -c release")
        #endif

        // The bench holds one descriptor per idle connection and so does the server, which inherits the limit.
        let limit = try DescriptorLimit.raiseToHardLimit()
        var counts = settings.connectionCounts
        let fitting = limit.soft - Self.descriptorMargin
        if let largest = counts.max(), largest > fitting {
            log.line("!! RLIMIT_NOFILE hard limit is \(limit.hard): \(largest) idle connections do not fit; using at most \(fitting)")
            counts = counts.map { min($0, fitting) }
        }
        log.line("# RLIMIT_NOFILE \(limit.soft) (hard \(limit.hard)), inherited by the server; results in \(results); "
                 + "load average \(CompareRunner.loadAverage()), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        guard !Self.isListening(settings.smtpPort) else {
            throw BenchmarkError("something already listens on 127.0.0.1:\(settings.smtpPort); choose another --port")
        }

        var template = Array("/tmp/postoffice-bench-idle.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchmarkError("mkdtemp failed") }
        let state = String(cString: made)
        defer { try? fm.removeItem(atPath: state) }
        let largest = counts.max() ?? 0
        let server = PostOfficeProcess(binary: settings.postofficeBinary, dataDirectory: state + "/postoffice",
                                       smtpPort: settings.smtpPort, pop3Port: settings.pop3Port,
                                       log: log, logFile: results + "/postoffice-server.log")
        defer { server.stop() }
        let interruption = Self.stopOnInterrupt(pidFile: server.pidFile, state: state)
        defer { interruption.forEach { $0.cancel() } }
        // Room for every idle connection from loopback, and no idle timeout during the test.
        try server.prepare(users: ["alice"], domain: CompareRunner.domain, password: CompareRunner.password,
                           extraConfiguration: """
                               max_connections = \(largest + 1000)
                               connections_per_client = \(largest + 1000)
                               smtp_command_timeout = \(settings.holdSeconds + 3600)

                               """)

        var rows: [IdleMeasurement] = []
        for round in 1...settings.rounds {
            for count in counts {
                log.line("## round \(round)/\(settings.rounds): \(Formatting.grouped(count)) idle connections, "
                         + "load average \(CompareRunner.loadAverage())")
                let row = try measure(count: count, round: round, server: server, log: log)
                rows.append(row)
                log.line("   " + (IdleMeasurement.table([row]).split(separator: "\n").last.map(String.init) ?? ""))
            }
        }
        let table = IdleMeasurement.table(rows)
        log.line("")
        log.block(table, prefix: "")
        log.line("")
        for count in counts {
            let group = rows.filter { $0.connections == count }
            let met = group.filter { $0.meets(limitMegabytes: Self.residentLimitMegabytes, p99Milliseconds: Self.p99LimitMilliseconds) }
            log.line("target (\(Formatting.grouped(count)) held, peak RSS ≤ \(Int(Self.residentLimitMegabytes)) MB, "
                     + "p99 < \(Int(Self.p99LimitMilliseconds)) ms with them): met in \(met.count) of \(group.count) rounds")
        }
        try table.write(toFile: results + "/summary.md", atomically: true, encoding: .utf8)
        log.line("results in \(results)")
    }

    /// One round at one count, against a freshly started server.
    private func measure(count: Int, round: Int, server: PostOfficeProcess, log: RunLog) throws -> IdleMeasurement {
        try server.start()
        defer {
            server.stop()
            unlink(server.pidFile)  // an interrupt between rounds must not signal a reused pid
        }
        guard let pid = server.pid else { throw BenchmarkError("postoffice did not start") }
        let recipient = "alice@\(CompareRunner.domain)"
        try server.probe(recipient: recipient)
        let serverLimit = Self.openFileLimit(pid: pid)
        log.line("   server pid \(pid), its RLIMIT_NOFILE \(serverLimit.map(String.init) ?? "unknown")")
        if let serverLimit, serverLimit < count + Self.descriptorMargin {
            log.line("!! the server's open-file limit \(serverLimit) is below \(count) connections plus its own descriptors")
        }

        let control = try latencyRun(recipient: recipient)
        log.line("   control   \(control.summary)")
        CompareRunner.emptyNewDirectories(below: server.mailRoot)

        guard let before = ProcessStatus(pid: pid, countingDescriptors: true) else { throw BenchmarkError("postoffice exited") }
        let sampler = ProcessSampler(pid: pid)
        sampler.start()
        var options = IdleConnectionPool.Options(port: settings.smtpPort, count: count)
        options.concurrency = settings.concurrency
        options.sendsHello = settings.sendsHello
        let pool = IdleConnectionPool(options: options)
        defer { pool.close() }
        var logged = 0
        let open = pool.open { held in
            guard held / 2500 > logged / 2500 else { return }
            logged = held
            log.line("   \(Formatting.grouped(held)) idle, server RSS \(Formatting.fixed(Double(ProcessStatus(pid: pid)?.residentKilobytes ?? 0) / 1024, decimals: 1)) MB")
        }
        log.line("   opened \(Formatting.grouped(open.established)) of \(Formatting.grouped(count)) in "
                 + "\(Formatting.fixed(open.seconds, decimals: 1)) s (\(Formatting.rate(Double(open.established) / max(open.seconds, 1e-9))) /s)"
                 + (open.failed > 0 ? "; \(open.failed) failed: \(open.failureSummary)" : "")
                 + (open.notAttempted > 0 ? "; \(open.notAttempted) not attempted" : ""))
        let opened = ProcessStatus(pid: pid) ?? ProcessStatus()
        // Let the server finish with the last greetings, and the connections sit idle, before reading its memory.
        sleep(UInt32(max(1, settings.holdSeconds)))
        pool.checkHeld()
        guard let idle = ProcessStatus(pid: pid, countingDescriptors: true) else {
            _ = sampler.stop()
            throw BenchmarkError("postoffice exited while holding the idle connections (see the server log)")
        }

        log.line("   held \(Formatting.grouped(pool.idleCount)) for \(settings.holdSeconds) s: server RSS \(Formatting.fixed(Double(idle.residentKilobytes) / 1024, decimals: 1)) MB, "
                 + "\(Formatting.grouped(idle.descriptors)) descriptors, \(idle.threads) threads; \(Self.kernelSocketMemory()) (not in RSS)")
        let loaded = try latencyRun(recipient: recipient)
        log.line("   with idle \(loaded.summary)")
        CompareRunner.emptyNewDirectories(below: server.mailRoot)
        let held = pool.checkHeld()
        var afterClose = Self.close(pool, pid: pid, baseline: before, log: log)
        log.line("   closed: server RSS \(Self.megabytes(afterClose.residentKilobytes)) MB")

        // Further batches on the same server: does memory freed by closed connections get reused?
        if settings.batches > 1 {
            for batch in 2...settings.batches {
                let again = IdleConnectionPool(options: options)
                let report = again.open()
                sleep(1)
                again.checkHeld()
                let held = ProcessStatus(pid: pid) ?? ProcessStatus()
                afterClose = Self.close(again, pid: pid, baseline: before, log: log)
                log.line("   batch \(batch)/\(settings.batches): \(Formatting.grouped(report.established)) opened"
                         + (report.failed > 0 ? " (\(report.failed) failed: \(report.failureSummary))" : "")
                         + (again.droppedCount > 0 ? " (\(again.droppedCount) dropped)" : "")
                         + ", server RSS held \(Self.megabytes(held.residentKilobytes)) MB (anon \(Self.megabytes(held.anonymousKilobytes))), "
                         + "after close \(Self.megabytes(afterClose.residentKilobytes)) MB, \(held.threads) threads")
            }
        }
        let peakResident = ProcessStatus(pid: pid)?.peakResidentKilobytes ?? 0
        let peaks = sampler.stop()
        var row = IdleMeasurement(connections: count, round: round, open: open)
        row.held = held
        row.dropped = pool.droppedCount
        row.firstDropReason = pool.firstDropReason
        if let reason = pool.firstDropReason { log.line("!! \(pool.droppedCount) idle connections dropped; first: \(reason)") }
        row.before = before
        row.opened = opened
        row.idle = idle
        row.afterClose = afterClose
        row.peakResidentKilobytes = peakResident
        row.peaks = peaks
        row.control = control
        row.loaded = loaded
        return row
    }

    /// Closes the pool's sockets and waits (at most 30 s) until the server has released their descriptors;
    /// returns the server's status then.
    private static func close(_ pool: IdleConnectionPool, pid: pid_t, baseline: ProcessStatus, log: RunLog) -> ProcessStatus {
        pool.close()
        let deadline = MonotonicClock.now() + 30_000_000_000
        var status = ProcessStatus(pid: pid, countingDescriptors: true) ?? ProcessStatus()
        while status.descriptors > baseline.descriptors + 8 && MonotonicClock.now() < deadline {
            usleep(200_000)
            status = ProcessStatus(pid: pid, countingDescriptors: true) ?? ProcessStatus()
        }
        if status.descriptors > baseline.descriptors + 8 {
            log.line("!! the server still has \(status.descriptors) descriptors open 30 s after the idle clients closed (before: \(baseline.descriptors))")
        }
        return status
    }

    private static func megabytes(_ kilobytes: Int) -> String {
        Formatting.fixed(Double(kilobytes) / 1024, decimals: 1)
    }

    /// The active client: one session sending `settings.messages` messages of `settings.size` bytes.
    private func latencyRun(recipient: String) throws -> LatencyClient.Result {
        var options = LatencyClient.Options()
        options.port = settings.smtpPort
        options.sessions = 1
        options.count = settings.messages
        options.size = settings.size
        options.recipient = recipient
        return try LatencyClient(options: options).run()
    }

    /// On SIGINT or SIGTERM (Ctrl-C, `timeout`): stop the server whose pid is in `pidFile`, remove the
    /// state folder and exit with 130, so an interrupted run leaves no server behind. The idle sockets
    /// close with the process.
    private static func stopOnInterrupt(pidFile: String, state: String) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                   let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
                    kill(pid, SIGTERM)
                    var tries = 0
                    while !Subprocess.hasExited(pid) && tries < 100 {
                        usleep(100_000)
                        tries += 1
                    }
                    if tries == 100 { kill(pid, SIGKILL) }
                }
                try? FileManager.default.removeItem(atPath: state)
                var text = "postoffice-bench: interrupted; server stopped\n"
                text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
                exit(130)
            }
            source.resume()
            return source
        }
    }

    /// The kernel's TCP buffer memory (both ends of every loopback connection, all processes), from the
    /// `mem` pages of /proc/net/sockstat.
    private static func kernelSocketMemory() -> String {
        guard let text = try? String(contentsOfFile: "/proc/net/sockstat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("TCP:") }) else { return "kernel TCP memory unknown" }
        let words = line.split(separator: " ")
        guard let at = words.firstIndex(of: "mem"), at + 1 < words.count, let pages = Int(words[at + 1]) else {
            return "kernel TCP memory unknown"
        }
        let bytes = Double(pages) * Double(sysconf(Int32(_SC_PAGESIZE)))
        let inUse = words.firstIndex(of: "inuse").flatMap { $0 + 1 < words.count ? String(words[$0 + 1]) : nil } ?? "?"
        return "kernel TCP buffers \(Formatting.fixed(bytes / 1_048_576, decimals: 1)) MB for \(inUse) sockets system-wide"
    }

    /// The soft "Max open files" of `pid`, from /proc/PID/limits (to show the server inherited ours).
    private static func openFileLimit(pid: pid_t) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        return line.dropFirst("Max open files".count).split(separator: " ").first.flatMap { Int($0) }
    }

    private static func isListening(_ port: UInt16) -> Bool {
        guard let connection = try? LineConnection(host: "127.0.0.1", port: port, timeoutSeconds: 1) else { return false }
        connection.close()
        return true
    }
}
