// ExternalTool: runs real clients that others wrote (python3, swaks, mpop, fetchmail, smtp-source) from
// tests, with a time limit, and reports whether a tool is installed so tests can say why they skip.

import Foundation

struct ToolResult {
    var status: Int32
    var output: String
    var errorOutput: String
}

enum ExternalTool {
    /// The full path of `name` on PATH (or the usual sbin folders), or nil.
    static func path(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/sbin", "/sbin", "/usr/local/sbin"]
        for dir in dirs where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        return nil
    }

    /// Runs a tool to completion (killed after `timeoutSeconds`), feeding `input` on stdin.
    static func run(
        _ name: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        timeoutSeconds: Double = 60
    ) throws -> ToolResult {
        guard let executable = path(name) else { throw ToolMissing(name: name) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        let outBox = DataBox()
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            outBox.data = PipeIO.readToEnd(stdout.fileHandleForReading)
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            errBox.data = PipeIO.readToEnd(stderr.fileHandleForReading)
            group.leave()
        }
        if let input { PipeIO.write(input, to: stdin.fileHandleForWriting) }
        try? stdin.fileHandleForWriting.close()
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            process.waitUntilExit()
            finished.signal()
        }
        if finished.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            process.terminate()
            finished.wait()
        }
        group.wait()
        return ToolResult(
            status: process.terminationStatus,
            output: String(decoding: outBox.data, as: UTF8.self),
            errorOutput: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Runs a Python 3 script given as text, with arguments.
    static func python(_ script: String, _ arguments: [String] = [], input: Data? = nil) throws -> ToolResult {
        try run("python3", ["-c", script] + arguments, input: input)
    }
}

struct ToolMissing: Error, CustomStringConvertible {
    let name: String
    var description: String { "\(name) is not installed (CI installs it with apt-get)" }
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}
