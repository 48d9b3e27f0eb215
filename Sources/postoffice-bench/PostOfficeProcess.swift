// PostOfficeProcess: the PostOffice server under test — a data folder with the benchmark users and the
// numbered recipients smtp-source -r uses, the release `postoffice serve` child, its pid file, and shutdown.

import Foundation

/// A `postoffice serve` child process with its own data folder.
final class PostOfficeProcess {
    let binary: String
    let dataDirectory: String
    let smtpPort: UInt16
    let pop3Port: UInt16
    let log: RunLog
    /// The server's stdout and stderr (kept with the results, so a crash can be read afterwards).
    let logFile: String
    private(set) var pid: pid_t?
    /// Whether this build knows `--submission` (it then listens on 127.0.0.1:1587 unless told otherwise, so
    /// the bench gives it port 0); older builds, run with `compare --baseline`, reject the option.
    private lazy var knowsSubmission: Bool = {
        ((try? Subprocess.run(binary, ["--help"]))?.output ?? "").contains("--submission")
    }()

    /// Maildirs are `<mailRoot>/<user@domain>/Maildir`, the shape the shared scripts expect.
    var mailRoot: String { dataDirectory + "/mail" }
    var pidFile: String { dataDirectory + "/postoffice.pid" }

    init(binary: String, dataDirectory: String, smtpPort: UInt16, pop3Port: UInt16, log: RunLog, logFile: String) {
        self.logFile = logFile
        self.binary = binary
        self.dataDirectory = dataDirectory
        self.smtpPort = smtpPort
        self.pop3Port = pop3Port
        self.log = log
    }

    private var common: [String] { ["--data", dataDirectory] }

    /// Outbound is on by default in the binary: never ask the machine's DNS servers from a benchmark. Not
    /// when the caller names its own servers, nor for an older build (`--baseline`) that has no such key.
    private func dnsLine(_ extraConfiguration: String) -> String {
        guard !extraConfiguration.contains("dns_servers"), knowsSubmission else { return "" }
        return "# Never ask the machine's DNS servers from a benchmark.\ndns_servers = 127.0.0.1:1\n"
    }

    /// Writes the config (the base settings, then `extraConfiguration` lines), adds the users (and users
    /// `0alice@`…`9alice@` for smtp-source -r), makes their Maildirs.
    func prepare(users: [String], domain: String, password: String, extraConfiguration: String = "") throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: mailRoot, withIntermediateDirectories: true)
        let config = """
            # postoffice-bench: the server under test
            hostname = postoffice-bench.localdomain
            domains = \(domain)
            mail_location = %u/Maildir

            """ + dnsLine(extraConfiguration) + extraConfiguration
        try config.write(toFile: dataDirectory + "/postoffice.conf", atomically: true, encoding: .utf8)
        try "# aliases\n".write(toFile: dataDirectory + "/aliases", atomically: true, encoding: .utf8)
        for user in users {
            let address = "\(user)@\(domain)"
            try cli(common + ["user", "add", address, "--password-stdin"], input: password + "\n")
            try makeMaildir(address)
        }
        // smtp-source -r N sends to 1alice@ ... Nalice@. Aliases to alice would be delivered once (PostOffice
        // delivers one copy per mailbox), so they are users of their own: N files, as the peers write.
        if let first = users.first {
            for number in 0..<10 {
                let address = "\(number)\(first)@\(domain)"
                try cli(common + ["user", "add", address, "--password-stdin"], input: password + "\n")
                try makeMaildir(address)
            }
        }
    }

    private func makeMaildir(_ address: String) throws {
        for sub in ["", "/tmp", "/new", "/cur"] {
            try FileManager.default.createDirectory(atPath: "\(mailRoot)/\(address)/Maildir\(sub)",
                                                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    private func cli(_ arguments: [String], input: String? = nil) throws {
        let outcome = try Subprocess.run(binary, arguments, input: input)
        guard outcome.status == 0 else {
            throw BenchmarkError("postoffice \(arguments.joined(separator: " ")) failed: \(outcome.output)")
        }
    }

    func start() throws {
        var arguments = common + ["serve", "--smtp", "127.0.0.1:\(smtpPort)", "--pop3", "127.0.0.1:\(pop3Port)"]
        if knowsSubmission { arguments += ["--submission", "127.0.0.1:0"] }
        let child = try Subprocess.start(binary, arguments, logFile: logFile)
        pid = child
        try "\(child)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        guard Subprocess.waitForPort(smtpPort, seconds: 15), Subprocess.waitForPort(pop3Port, seconds: 5) else {
            let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            stop()
            throw BenchmarkError("postoffice did not start listening: \(text)")
        }
    }

    /// Restarts the server when it has exited since the last check, saying so in the run log: a load must
    /// never run against a dead server, and the death itself is a finding (see the server log).
    func ensureRunning() throws {
        guard let pid else { return }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return }
        let signal = status & 0x7f
        log.line("!! postoffice (pid \(pid)) exited: \(signal == 0 ? "status \((status >> 8) & 0xff)" : "signal \(signal)"); "
                 + "see \(logFile); restarting")
        self.pid = nil
        try start()
    }

    /// One message to `recipient`; it must show up in the Maildir within 10 s. Removed afterwards.
    func probe(recipient: String) throws {
        var options = LatencyClient.Options()
        options.port = smtpPort
        options.sessions = 1
        options.count = 1
        options.recipient = recipient
        let result = try LatencyClient(options: options).run()
        guard result.delivered == 1 else { throw BenchmarkError("postoffice probe failed: \(result.firstError ?? "?")") }
        let new = "\(mailRoot)/\(recipient)/Maildir/new"
        for _ in 0..<100 {
            if let files = try? FileManager.default.contentsOfDirectory(atPath: new), !files.isEmpty {
                for file in files { unlink(new + "/" + file) }
                return
            }
            usleep(100_000)
        }
        throw BenchmarkError("postoffice probe: nothing in \(new)")
    }

    /// SIGTERM (graceful), then SIGKILL after 10 s.
    func stop() {
        guard let pid else { return }
        self.pid = nil
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            if Subprocess.hasExited(pid) { return }
            usleep(100_000)
        }
        kill(pid, SIGKILL)
        _ = Subprocess.wait(pid)
    }
}
