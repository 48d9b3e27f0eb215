// RelaySink: Postfix's smtp-sink as the next hop of the relay benchmark — one per MTA under test, on
// 127.0.0.2 and a port of its own. It counts the messages it accepted (`-c` counters, read from its
// output) and dumps each one to a file on tmpfs (`-d`), whose modification time is when the last byte of
// the message arrived: the relay latency is measured from those files. smtp-sink ignores SIGTERM.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A running `smtp-sink` with its counter output and dump folder.
final class RelaySink {
    let host = "127.0.0.2"
    let port: UInt16
    /// Where each received message is dumped (tmpfs when there is one, so the sink never waits on the disk).
    let dumpDirectory: String
    /// smtp-sink's stdout and stderr: the `sess=… quit=… mesg=…` counters, rewritten with "\r" per message.
    let outputFile: String
    private(set) var pid: pid_t?

    /// One message as the sink dumped it.
    struct Dump {
        /// The `X-Relay-Bench:` tag the benchmark client put in the message, nil for smtp-source's messages.
        var tag: String?
        /// The dump file's modification time (CLOCK_REALTIME nanoseconds): the message's last byte arrived.
        var receivedNanoseconds: Int64
    }

    init(port: UInt16, stateDirectory: String, label: String) throws {
        self.port = port
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : stateDirectory
        var template = Array("\(base)/postoffice-bench-sink-\(label).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchmarkError("mkdtemp in \(base) failed: errno \(errno)") }
        dumpDirectory = String(cString: made)
        chmod(dumpDirectory, 0o777)  // smtp-sink runs as nobody when started by root
        outputFile = stateDirectory + "/sink-\(label).out"
    }

    func start() throws {
        guard let sink = Subprocess.find("smtp-sink") else { throw BenchmarkError("smtp-sink (postfix) not installed") }
        var arguments = ["-c", "-d", dumpDirectory + "/m."]
        if getuid() == 0 { arguments = ["-u", "nobody"] + arguments }
        // A backlog of 1024: 50 sessions connect at once.
        arguments += ["\(host):\(port)", "1024"]
        pid = try Subprocess.start(sink, arguments, logFile: outputFile)
        guard Self.waitForPort(port, host: host, seconds: 10) else {
            stop()
            throw BenchmarkError("smtp-sink did not listen on \(host):\(port): \((try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")")
        }
    }

    /// Waits (up to `seconds`) until something accepts TCP connections on `host`:`port`.
    static func waitForPort(_ port: UInt16, host: String, seconds: Double) -> Bool {
        let deadline = MonotonicClock.now() + UInt64(seconds * 1e9)
        while MonotonicClock.now() < deadline {
            if let connection = try? LineConnection(host: host, port: port, timeoutSeconds: 2) {
                connection.close()
                return true
            }
            usleep(50_000)
        }
        return false
    }

    /// SIGKILL (smtp-sink ignores SIGTERM), reap, and remove the dumps.
    func stop() {
        if let pid {
            kill(pid, SIGKILL)
            _ = Subprocess.wait(pid)
            self.pid = nil
        }
        try? FileManager.default.removeItem(atPath: dumpDirectory)
    }

    /// Messages received so far ("." answered), from the last counter line; reads only the file's tail.
    func receivedCount() -> Int {
        let descriptor = open(outputFile, O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        let size = lseek(descriptor, 0, SEEK_END)
        let length = min(Int(size), 256)
        guard length > 0 else { return 0 }
        var bytes = [UInt8](repeating: 0, count: length)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, length, off_t(Int(size) - length)) }
        guard read > 0 else { return 0 }
        let text = String(decoding: bytes[..<read], as: UTF8.self)
        // The last complete "mesg=N" (a line ends with "\r"; the one being written may be cut short).
        guard let range = text.range(of: "mesg=", options: .backwards) else { return 0 }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        // A number cut off at the file's end is still growing: take the one before it.
        if text[range.upperBound...].count == digits.count, let earlier = text[..<range.lowerBound].range(of: "mesg=", options: .backwards) {
            return Int(text[earlier.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return Int(digits) ?? 0
    }

    /// Waits until the sink has received `target` messages in all; returns false after `seconds`.
    func waitForCount(_ target: Int, seconds: Double, pollMicroseconds: UInt32 = 2000) -> Bool {
        let deadline = MonotonicClock.now() + UInt64(seconds * 1e9)
        while receivedCount() < target {
            if MonotonicClock.now() > deadline { return false }
            usleep(pollMicroseconds)
        }
        return true
    }

    /// Reads every dump file (tag and modification time) and deletes them. Call it only when no message is in
    /// flight to the sink (a file is created at MAIL FROM and written up to the final ".").
    func harvest() -> [Dump] {
        var dumps: [Dump] = []
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dumpDirectory) else { return [] }
        for name in names {
            let path = dumpDirectory + "/" + name
            var status = stat()
            guard stat(path, &status) == 0 else { continue }
            let received = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
            dumps.append(Dump(tag: Self.tag(inFile: path), receivedNanoseconds: received))
            unlink(path)
        }
        return dumps
    }

    /// The value of the first `X-Relay-Bench:` header in the first 4 KB of `path` (the sink's own headers,
    /// a Received: line or two from the MTA, then ours).
    private static func tag(inFile path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        guard let range = text.range(of: "\nX-Relay-Bench: ") else { return nil }
        let value = text[range.upperBound...].prefix { $0 != "\r" && $0 != "\n" }
        return String(value)
    }
}
