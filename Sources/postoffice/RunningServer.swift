// RunningServer: the pid file of a serving `postoffice` in its data folder, so `postoffice reload`, `user add`
// and `alias add` can signal that server — and only it — instead of `pkill -HUP`, which signals every
// postoffice on the machine.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

enum RunningServer {
    /// `DATA/postoffice.pid`.
    static func pidFile(dataDirectory: String) -> String { dataDirectory + "/postoffice.pid" }

    /// Writes this process's pid (replacing a stale file). Failure is not fatal: only reload needs it.
    static func writePidFile(dataDirectory: String) {
        let path = pidFile(dataDirectory: dataDirectory)
        let text = "\(getpid())\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// Removes the pid file if it still names this process.
    static func removePidFile(dataDirectory: String) {
        if runningProcess(dataDirectory: dataDirectory) == getpid() { unlink(pidFile(dataDirectory: dataDirectory)) }
    }

    /// The pid of the postoffice serving this data folder, or nil when none is running (no file, or a stale
    /// one naming a dead process or another program).
    static func runningProcess(dataDirectory: String) -> pid_t? {
        guard let text = try? String(fileAtPath: pidFile(dataDirectory: dataDirectory)),
            let pid = pid_t(text.trimmingWhitespace), pid > 0, kill(pid, 0) == 0
        else { return nil }
        // The pid may have been reused: it must still be a postoffice.
        guard let command = try? String(fileAtPath: "/proc/\(pid)/cmdline") else { return pid }
        let program = command.split(separator: "\0").first.map { String($0.split(separator: "/").last ?? "") } ?? ""
        return program == "postoffice" ? pid : nil
    }

    /// Sends SIGHUP to the server of this data folder; returns its pid, or nil when none runs.
    @discardableResult
    static func reload(dataDirectory: String) -> pid_t? {
        guard let pid = runningProcess(dataDirectory: dataDirectory), kill(pid, SIGHUP) == 0 else { return nil }
        return pid
    }

    /// After `user` or `alias` changed a file: reloads a running server and says so.
    static func reloadAfterChange(dataDirectory: String) {
        if let pid = reload(dataDirectory: dataDirectory) {
            print("reloaded the running server (pid \(pid))")
        }
    }
}

extension String {
    /// The contents of a small text file.
    init(fileAtPath path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", errno: errno, detail: path) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = SystemCall.restarting { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        self = String(decoding: bytes, as: UTF8.self)
    }

    var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }.reversed())
    }
}

/// `postoffice reload`: signals the server of this data folder to re-read postoffice.conf, users and aliases.
struct ReloadCommand {
    let options: CommandLineOptions

    static let help = """
        Usage: postoffice reload [--data DIR]

        Tells the server serving DIR (its pid is in DIR/postoffice.pid) to re-read postoffice.conf, the users
        and aliases files and the certificate, like SIGHUP to that one process. Domains, catch-alls, users,
        aliases, TLS, limits and login policy apply to new sessions at once; the log names every change, and
        each setting that needs a restart (listeners, folders, host name). Exit 1 when no server is running.

        Examples:
          postoffice reload --data /var/lib/postoffice
        """

    func run() throws -> Int32 {
        guard let pid = RunningServer.reload(dataDirectory: options.dataDirectory) else {
            printError("postoffice: no server is running for \(options.dataDirectory) (no live pid in \(RunningServer.pidFile(dataDirectory: options.dataDirectory))); start one with `postoffice serve --data \(options.dataDirectory)`")
            return 1
        }
        print("asked the server (pid \(pid)) to reload; its log lists what changed and what needs a restart")
        return 0
    }
}
