// Subprocess: runs the harness's helpers (the load scripts, the peers' up/down scripts, the `postoffice`
// CLI) with posix_spawn and waitpid, and starts the PostOffice server as a child whose pid the load scripts
// measure. Not Foundation's Process: it notices a child's exit through a descriptor the child inherits, and
// the daemons peers/up.sh starts inherit it too, so the script would never seem to end.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Running child processes.
enum Subprocess {
    /// The outcome of a finished command.
    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Runs `executable` with `arguments` to completion; stdout and stderr are captured together (in a
    /// temporary file, which daemons the command leaves behind may keep open harmlessly).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    input: String? = nil) throws -> Outcome {
        let outputPath = try temporaryFile(contents: "")
        defer { unlink(outputPath) }
        var inputPath: String?
        if let input { inputPath = try temporaryFile(contents: input) }
        defer { if let inputPath { unlink(inputPath) } }
        let pid = try spawn(executable, arguments, environment: environment, inputPath: inputPath ?? "/dev/null",
                            outputPath: outputPath)
        let status = wait(pid)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Outcome(status: status, output: output)
    }

    /// Starts a long-running child with its output appended to `logFile`; returns its pid.
    static func start(_ executable: String, _ arguments: [String], logFile: String) throws -> pid_t {
        try spawn(executable, arguments, environment: [:], inputPath: "/dev/null", outputPath: logFile)
    }

    /// The exit status of `pid` (128 + signal when it was killed), after waiting for it.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Whether `pid` has exited (reaps it if so).
    static func hasExited(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }

    private static func temporaryFile(contents: String) throws -> String {
        var template = Array("/tmp/postoffice-bench-io.XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { throw BenchmarkError("mkstemp failed: errno \(errno)") }
        var text = contents
        text.withUTF8 { _ = Glibc.write(descriptor, $0.baseAddress, $0.count) }
        Glibc.close(descriptor)
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                              inputPath: String, outputPath: String) throws -> pid_t {
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw BenchmarkError("cannot start \(executable): errno \(result)") }
        return pid
    }

    /// Looks a command up on PATH (and the sbin directories, where Postfix keeps smtp-source).
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Waits (up to `seconds`) until something accepts TCP connections on 127.0.0.1:`port`.
    static func waitForPort(_ port: UInt16, seconds: Double) -> Bool {
        let deadline = MonotonicClock.now() + UInt64(seconds * 1e9)
        while MonotonicClock.now() < deadline {
            if let connection = try? LineConnection(host: "127.0.0.1", port: port, timeoutSeconds: 2) {
                connection.close()
                return true
            }
            usleep(100_000)
        }
        return false
    }
}
