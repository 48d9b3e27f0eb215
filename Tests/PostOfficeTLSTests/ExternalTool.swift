// ExternalTool: finds and runs command-line tools (openssl) for tests that check files or interoperate.
import Foundation

enum ExternalTool {
    /// The tool's full path on PATH, or nil when it is not installed.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether the tool is on PATH: for `.enabled(if:)` traits, so a missing tool shows as a skipped test.
    static func isAvailable(_ name: String) -> Bool { find(name) != nil }

    /// Runs the tool to completion; returns its exit status and standard output.
    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return (-1, "")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Waits for `process` to exit, terminating it after `seconds` so a misbehaving tool cannot hang the run.
    /// Returns false if it had to be terminated.
    @discardableResult
    static func waitForExit(_ process: Process, seconds: Int = 20) -> Bool {
        for _ in 0..<(seconds * 20) where process.isRunning {
            usleep(50_000)
        }
        guard process.isRunning else { return true }
        process.terminate()
        process.waitUntilExit()
        return false
    }
}
