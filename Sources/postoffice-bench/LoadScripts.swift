// LoadScripts: calls the shared load generators (smtp_load.py, pop3_load.py, fsync_limit.py) with the
// harness's settings; each appends JSON lines to the results directory for ResultTable.

import Foundation

/// The shared Python load scripts.
struct LoadScripts {
    let python: String
    /// The shared bench directory holding the scripts.
    let directory: String
    let results: String
    let log: RunLog

    /// One smtp_load.py run (one repeat) of `load` against `target`.
    /// `clean`: smtp_load.py deletes what new/ holds first (otherwise the caller has moved it aside).
    func smtpLoad(target: CompareRunner.SMTPTarget, load: CompareRunner.SMTPLoad, count: Int, clean: Bool) throws {
        var arguments = [directory + "/smtp_load.py", "--port", "\(target.port)", "--maildir-root", target.maildirRoot,
                         "--size", "\(load.size)", "--sessions", "\(load.sessions)", "--count", "\(count)",
                         "--rcpts", "\(load.recipients)"] + (clean ? ["--clean"] : []) + ["--label", target.label,
                         "--server-pidfile", target.pidFile, "--timeout", "150", "--json", results + "/smtp.jsonl"]
        if let queue = target.queueDirectory { arguments += ["--queue-dir", queue] }
        let outcome = try Subprocess.run(python, arguments)
        log.block(outcome.output, prefix: "")
    }

    /// pop3_load.py: seeds `total` 10 KB messages over the clients' mailboxes, one warm-up, one timed run.
    func pop3Load(label: String, port: UInt16, users: [String], clients: Int, seedRoot: String, total: Int,
                  pidFile: String) throws {
        let arguments = [directory + "/pop3_load.py", "--port", "\(port)", "--users", users.joined(separator: ","),
                         "--password", CompareRunner.password, "--clients", "\(clients)", "--seed-root", seedRoot,
                         "--seed-total", "\(total)", "--seed-size", "10240", "--warmup", "1", "--repeat", "1",
                         "--timeout", "120", "--server-pidfile", pidFile, "--label", label,
                         "--json", results + "/pop3.jsonl"]
        let outcome = try Subprocess.run(python, arguments)
        log.block(outcome.output, prefix: "")
    }

    /// fsync_limit.py in `directory` (the filesystem the servers write to).
    func fsyncLimit(directory target: String, threads: [Int], seconds: Int, repeats: Int) throws {
        let arguments = [directory + "/fsync_limit.py", "--dir", target, "--threads", threads.map(String.init).joined(separator: ","),
                         "--seconds", "\(seconds)", "--repeat", "\(repeats)", "--size", "1024",
                         "--json", results + "/fsync.jsonl"]
        let outcome = try Subprocess.run(python, arguments)
        log.block(outcome.output, prefix: "  ")
    }
}
