// CompareRunner: `postoffice-bench compare` — sets up PostOffice (the release binary, its own data folder)
// and the peers (shared peers/up.sh), then runs the same loads against each, interleaved in rounds, with
// the shared load scripts; prints and saves the summary tables. Loopback only, every load bounded.

import Foundation
import PostOfficeAccounts

/// Runs the side-by-side comparison.
struct CompareRunner {
    let settings: BenchmarkSettings

    /// The users every server knows; password "secret".
    static let users = ["alice", "bob", "carol", "dave"]
    static let domain = "example.test"
    static let password = "secret"

    /// One SMTP load: smtp-source parameters.
    struct SMTPLoad {
        var size: Int
        var sessions: Int
        var recipients = 1
    }

    /// An SMTP server under test, as smtp_load.py sees it.
    struct SMTPTarget {
        var label: String
        var port: UInt16
        var maildirRoot: String
        var pidFile: String
        var queueDirectory: String?
    }

    func run() throws {
        let fm = FileManager.default
        let bench = (settings.benchDirectory as NSString).standardizingPath
        for script in ["smtp_load.py", "pop3_load.py", "fsync_limit.py", "peers/up.sh", "peers/down.sh"] {
            guard fm.fileExists(atPath: bench + "/" + script) else {
                throw BenchmarkError("\(bench)/\(script) not found: set POSTOFFICE_BENCH_DIR or --bench-dir")
            }
        }
        guard fm.isExecutableFile(atPath: settings.postofficeBinary) else {
            throw BenchmarkError("\(settings.postofficeBinary) not found: run `swift build -c release --product postoffice` first")
        }
        if let baseline = settings.baselineBinary, !fm.isExecutableFile(atPath: baseline) {
            throw BenchmarkError("--baseline \(baseline): not an executable")
        }
        guard Subprocess.find("smtp-source") != nil else { throw BenchmarkError("smtp-source (postfix) not installed") }
        guard getuid() == 0 else { throw BenchmarkError("compare runs Postfix and Dovecot: run it as root") }

        let results = (settings.resultsDirectory as NSString).standardizingPath
        try fm.createDirectory(atPath: results, withIntermediateDirectories: true)
        var template = Array("/tmp/postoffice-bench.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchmarkError("mkdtemp failed") }
        let state = String(cString: made)
        chmod(state, 0o755)  // the peers deliver as uid 5000 below it
        let log = RunLog(path: results + "/run.log")
        log.line("# postoffice-bench compare \(CommandLine.arguments.dropFirst(2).joined(separator: " "))")
        log.line("# state \(state), results \(results), load average \(Self.loadAverage()), \(ProcessInfo.processInfo.activeProcessorCount) cores")

        let wantsPeers = settings.parts.contains("pop3") || settings.targets.contains("postfix") || settings.targets.contains("aiosmtpd")
        var peersOnly: [String] = []
        if settings.targets.contains("postfix") { peersOnly.append("postfix") }
        if settings.parts.contains("pop3") { peersOnly.append("dovecot") }
        if settings.targets.contains("aiosmtpd") { peersOnly.append("aiosmtpd") }
        if settings.parts.contains("pop3") && !peersOnly.contains("postfix") { peersOnly.append("postfix") }  // up.sh checks Dovecot through Postfix
        let peerEnvironment = [
            "PEERS_DIR": state + "/peers", "POSTFIX_PORT": "\(settings.postfixPort)", "POP3_PORT": "\(settings.dovecotPort)",
            "AIOSMTPD_PORT": "\(settings.aiosmtpdPort)", "PEERS_ONLY": peersOnly.joined(separator: " "),
        ]

        // Create every server's Maildir tree together (a fresh ext4 tree is slower than an aged one).
        let server = PostOfficeProcess(binary: settings.postofficeBinary, dataDirectory: state + "/postoffice",
                                           smtpPort: settings.postofficeSMTPPort, pop3Port: settings.postofficePOP3Port,
                                           log: log, logFile: results + "/postoffice-server.log")
        // --baseline: the older build, its own data folder and ports, prepared and started the same way.
        let baselineServer = settings.baselineBinary.map {
            PostOfficeProcess(binary: $0, dataDirectory: state + "/baseline", smtpPort: settings.baselineSMTPPort,
                                  pop3Port: settings.baselinePOP3Port, log: log, logFile: results + "/baseline-server.log")
        }
        let mailAuthentication = settings.checksMailAuthentication
            ? MailAuthenticationLoad(directory: state + "/mail-authentication", log: log) : nil
        var floorProcess: pid_t?
        var serverStarted = false
        var baselineStarted = false
        var peersStarted = false
        defer {
            if !settings.keepsServers {
                mailAuthentication?.stop()
                if serverStarted { server.stop() }
                if let floorProcess {
                    kill(floorProcess, SIGKILL)
                    _ = Subprocess.wait(floorProcess)
                }
                if baselineStarted { baselineServer?.stop() }
                if peersStarted {
                    _ = try? Subprocess.run("/bin/bash", [bench + "/peers/down.sh", "--purge"], environment: peerEnvironment)
                }
                try? fm.removeItem(atPath: state)
            } else {
                log.line("# --keep: servers left running; state in \(state)")
            }
        }
        try mailAuthentication?.start(domain: Self.domain, sender: "a@\(Self.domain)", recipient: "alice@\(Self.domain)")
        let extraConfiguration = mailAuthentication?.configuration ?? ""
        try server.prepare(users: Self.users, domain: Self.domain, password: Self.password, extraConfiguration: extraConfiguration)
        try baselineServer?.prepare(users: Self.users, domain: Self.domain, password: Self.password,
                                    extraConfiguration: settings.baselineSkipsMailAuthentication ? "" : extraConfiguration)
        if wantsPeers {
            log.line("## starting peers: \(peersOnly.joined(separator: " "))")
            peersStarted = true
            let outcome = try Subprocess.run("/bin/bash", [bench + "/peers/up.sh"], environment: peerEnvironment)
            log.block(outcome.output, prefix: "  ")
            guard outcome.status == 0 else { throw BenchmarkError("peers/up.sh failed (see \(results)/run.log)") }
            if peersOnly.contains("dovecot") && !settings.dovecotKeepsPlainPasswords {
                let changed = try Self.giveDovecotTheHashes(
                    of: server.dataDirectory + "/users", to: state + "/peers/dovecot/users", domain: Self.domain)
                log.line("## Dovecot's passdb: \(changed) users given PostOffice's {SHA512-CRYPT} hashes (same work at login)")
            }
        }
        try server.start()
        serverStarted = true
        try server.probe(recipient: "alice@\(Self.domain)")
        log.line("## PostOffice \(settings.postofficeBinary) up: SMTP 127.0.0.1:\(settings.postofficeSMTPPort), POP3 127.0.0.1:\(settings.postofficePOP3Port)")
        if let baselineServer {
            baselineStarted = true
            try baselineServer.start()
            try baselineServer.probe(recipient: "alice@\(Self.domain)")
            log.line("## baseline \(baselineServer.binary) up: SMTP 127.0.0.1:\(settings.baselineSMTPPort), POP3 127.0.0.1:\(settings.baselinePOP3Port)")
        }

        var targets: [SMTPTarget] = []
        for name in settings.targets {
            switch name {
            case "postoffice":
                targets.append(SMTPTarget(label: "postoffice", port: settings.postofficeSMTPPort,
                                          maildirRoot: server.mailRoot, pidFile: server.pidFile))
            case "baseline":
                guard let baselineServer else { continue }
                targets.append(SMTPTarget(label: "baseline", port: settings.baselineSMTPPort,
                                          maildirRoot: baselineServer.mailRoot, pidFile: baselineServer.pidFile))
            case "floor":
                // The floor: this same binary's floor-server (canned SMTP, only the durable writes).
                let root = state + "/floor", pidFile = state + "/floor.pid"
                // smtp_load.py watches the new/ folders that exist when it starts: make the ones smtp-source
                // sends to (alice, and 1alice… for -r N), as the other servers' set-up does.
                for user in Self.users + (0...9).map({ "\($0)alice" }) {
                    for sub in ["tmp", "new", "cur"] {
                        try fm.createDirectory(atPath: root + "/" + user + "/" + sub, withIntermediateDirectories: true)
                    }
                }
                let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
                floorProcess = try Subprocess.start(executable, ["floor-server", "--port", "\(settings.floorPort)", "--root", root,
                                                                 "--pid-file", pidFile], logFile: results + "/floor-server.log")
                guard Subprocess.waitForPort(settings.floorPort, seconds: 10) else { throw BenchmarkError("floor-server did not start") }
                log.line("## floor \(executable) floor-server up: 127.0.0.1:\(settings.floorPort)")
                targets.append(SMTPTarget(label: "floor", port: settings.floorPort, maildirRoot: root, pidFile: pidFile))
            case "postfix":
                targets.append(SMTPTarget(label: "postfix", port: settings.postfixPort, maildirRoot: state + "/peers/mail",
                                          pidFile: state + "/peers/postfix/queue/pid/master.pid",
                                          queueDirectory: state + "/peers/postfix/queue"))
            default:
                targets.append(SMTPTarget(label: "aiosmtpd", port: settings.aiosmtpdPort, maildirRoot: state + "/peers/aiosmtpd-mail",
                                          pidFile: state + "/peers/aiosmtpd.pid"))
            }
        }

        let scripts = LoadScripts(python: settings.python, directory: bench, results: results, log: log)
        var loads: [SMTPLoad] = []
        if settings.parts.contains("smtp") {
            // Issue 20's target (>= 2.5x Postfix) is for 1 KB and 10 KB at 10 and 50 sessions: all four are here.
            loads += [SMTPLoad(size: 1024, sessions: 10), SMTPLoad(size: 1024, sessions: 50),
                      SMTPLoad(size: 10240, sessions: 10), SMTPLoad(size: 10240, sessions: 50),
                      SMTPLoad(size: 102_400, sessions: 50)]
        }
        if settings.parts.contains("rcpts") { loads.append(SMTPLoad(size: 10240, sessions: 10, recipients: 5)) }

        var latencies: [LatencyRow] = []
        // Which server goes first alternates by round, so neither build always runs right after the other.
        func ensureRunning(_ label: String) throws {
            if label == "postoffice" { try server.ensureRunning() }
            if label == "baseline" { try baselineServer?.ensureRunning() }
        }
        for round in 1...settings.rounds {
            log.line("## round \(round)/\(settings.rounds), load average \(Self.loadAverage())")
            let targets = round % 2 == 1 ? targets : targets.reversed()
            for load in loads {
                for target in targets {
                    try ensureRunning(target.label)
                    let count = load.recipients > 1 ? max(1, settings.count / load.recipients) : settings.messages(size: load.size)
                    if !settings.deletesBetweenRuns {
                        Self.setAsideNewFiles(below: target.maildirRoot, into: state + "/set-aside/" + target.label)
                    }
                    try scripts.smtpLoad(target: target, load: load, count: count, clean: settings.deletesBetweenRuns)
                }
            }
            if settings.parts.contains("latency") {
                for target in targets {
                    try ensureRunning(target.label)
                    var options = LatencyClient.Options()
                    options.port = target.port
                    options.sessions = 50
                    options.count = settings.count
                    options.size = 1024
                    let result = try LatencyClient(options: options).run()
                    log.line("\(target.label.padding(toLength: 10, withPad: " ", startingAt: 0)) \(result.summary)")
                    latencies.append(LatencyRow(label: target.label, result: result))
                    Self.emptyNewDirectories(below: target.maildirRoot)
                }
            }
        }
        // The disk ceiling last: fsync_limit.py creates and deletes thousands of files, and ext4 without a
        // journal skips inodes freed in the last 30 s (330 s while their inode-table block is still dirty) when
        // it allocates new ones. Run first, with a 35 s pause, it still slowed round 1 (the floor's 1 KB x 10 at
        // 1,141 msg/s against 2,391-2,951 in later rounds, 05:25 UTC on 2026-12-07).
        if settings.parts.contains("fsync") {
            log.line("## disk ceiling (fsync_limit.py)")
            try scripts.fsyncLimit(directory: state, threads: [1, 10, 50], seconds: settings.isQuick ? 1 : 3,
                                   repeats: settings.isQuick ? 1 : settings.rounds)
        }
        // POP3 after every SMTP round and the disk ceiling: its seeding deletes the previous seed (10,000 files
        // a run), which slowed the next round's SMTP loads when the parts shared a round (09:07 UTC on
        // 2026-12-07: our CPU per message 0.57-1.02 ms against 0.34-0.49 in a run without POP3). RETR only
        // reads, so the deletes do not slow what POP3 measures.
        if settings.parts.contains("pop3") {
            for round in 1...settings.rounds {
                log.line("## POP3 round \(round)/\(settings.rounds), load average \(Self.loadAverage())")
                let total = settings.pop3Messages
                var pop3Servers = [("postoffice", server)]
                if let baselineServer { pop3Servers.append(("baseline", baselineServer)) }
                if round % 2 == 0 { pop3Servers.reverse() }
                for clients in [1, 4] {
                    for (label, process) in pop3Servers {
                        try process.ensureRunning()
                        try scripts.pop3Load(label: label, port: process.pop3Port,
                                             users: Self.users.map { "\($0)@\(Self.domain)" }, clients: clients,
                                             seedRoot: process.mailRoot, total: total, pidFile: process.pidFile)
                    }
                    try scripts.pop3Load(label: "dovecot", port: settings.dovecotPort, users: Self.users, clients: clients,
                                         seedRoot: state + "/peers/mail", total: total,
                                         pidFile: state + "/peers/dovecot/run/master.pid")
                }
            }
        }
        if mailAuthentication != nil {
            log.line("## a delivered message: \(MailAuthenticationLoad.sampleResult(mailRoot: server.mailRoot) ?? "no Authentication-Results found")")
        }
        let summary = ResultTable(resultsDirectory: results, latencies: latencies).render()
        log.line("")
        log.block(summary, prefix: "")
        try summary.write(toFile: results + "/summary.md", atomically: true, encoding: .utf8)
        log.line("results in \(results)")
    }

    /// Moves the delivered files out of every `new/` below `root` into `holding` (renames within the state
    /// folder's file system, deleted with it at the end), so the next load starts from small directories
    /// without thousands of just-freed inodes: ext4 without a journal skips inodes freed in the last 30-60 s
    /// when it allocates one, reading each one's inode-table block, and that scan was ~30 % of every
    /// server's CPU in the run that followed a deletion (perf, 2026-12-07).
    static func setAsideNewFiles(below root: String, into holding: String) {
        try? FileManager.default.createDirectory(atPath: holding, withIntermediateDirectories: true)
        forEachNewFile(below: root) { mailbox, path, file in
            if rename(path, holding + "/" + mailbox + "." + file) != 0 {
                unlink(path)  // another file system, or a name taken: delete it as before
            }
        }
    }

    /// Puts the password hash PostOffice stores for `user@domain` (its users file: `address:{SCHEME}hash...`)
    /// in place of the `{PLAIN}secret` that peers/up.sh writes in Dovecot's passwd-file for `user`, so a POP3
    /// login costs both servers the same hash verification. Dovecot reads the file again when it changes.
    /// Returns how many entries were changed.
    static func giveDovecotTheHashes(of postofficeUsers: String, to dovecotUsers: String, domain: String) throws -> Int {
        let users = try UserDatabase.load(from: postofficeUsers)
        var changed = 0
        var lines: [String] = []
        for line in try String(contentsOfFile: dovecotUsers, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if fields.count >= 2, fields[1].hasPrefix("{PLAIN}"), let user = users.user(named: fields[0] + "@" + domain) {
                fields[1] = user.passwordHash.storedForm
                changed += 1
            }
            lines.append(fields.joined(separator: ":"))
        }
        guard changed > 0 else { throw BenchmarkError("no Dovecot user matched PostOffice's users file \(postofficeUsers)") }
        // Written in place: the file keeps its mode and group (dovecot reads it).
        try lines.joined(separator: "\n").write(toFile: dovecotUsers, atomically: false, encoding: .utf8)
        return changed
    }

    /// Removes delivered files so the next load starts from small directories (as smtp_load.py --clean does).
    static func emptyNewDirectories(below root: String) {
        forEachNewFile(below: root) { _, path, _ in unlink(path) }
    }

    /// Calls `body(mailbox, path, file name)` for every file in `<mailbox>/new` and `<mailbox>/Maildir/new`
    /// below `root` (the layouts of the servers the bench runs).
    private static func forEachNewFile(below root: String, _ body: (String, String, String) -> Void) {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else { return }
        for entry in entries {
            for directory in [root + "/" + entry + "/new", root + "/" + entry + "/Maildir/new"] {
                guard let files = try? fm.contentsOfDirectory(atPath: directory) else { continue }
                for file in files { body(entry, directory + "/" + file, file) }
            }
        }
    }

    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}

/// One latency run, kept for the summary table.
struct LatencyRow {
    var label: String
    var result: LatencyClient.Result
}
