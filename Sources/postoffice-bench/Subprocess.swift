// Subprocess: runs the harness's helpers (the load scripts, the peers' up/down scripts, the `postoffice`
// CLI) and starts the PostOffice server as a child whose pid the load scripts measure.

import Foundation

/// Running child processes.
enum Subprocess {
    /// The outcome of a finished command.
    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Runs `executable` with `arguments` to completion; stdout and stderr are captured together.
    /// With `echo`, the captured output is printed afterwards, line by line, with `prefix`.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    input: String? = nil, echo: Bool = false, prefix: String = "") throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inputPipe.fileHandleForWriting.close()
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        if echo {
            for line in output.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                print(prefix + line)
            }
            fflush(nil)
        }
        return Outcome(status: process.terminationStatus, output: output)
    }

    /// Starts a long-running child with its output appended to `logFile`.
    static func start(_ executable: String, _ arguments: [String], logFile: String) throws -> Process {
        FileManager.default.createFile(atPath: logFile, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logFile) else { throw BenchmarkError("cannot write \(logFile)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
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
