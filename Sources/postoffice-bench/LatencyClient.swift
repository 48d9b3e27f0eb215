// LatencyClient: `postoffice-bench latency` — N concurrent SMTP sessions on loopback, each sending its share
// of the messages over one connection, timing every message from the final ".\r\n" to the 250 reply.
// That interval is what a sender waits for the server's durable commit (fsyncs included).

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small SMTP load generator that records per-message commit latency.
struct LatencyClient {
    /// What to send, and where.
    struct Options {
        var host = "127.0.0.1"
        var port: UInt16 = 0
        var sessions = 50
        var count = 2000
        var size = 1024
        var recipient = "alice@example.test"
        var sender = "a@example.test"
        /// Seconds each session may take in all; a session past it gives up (counted as a failure).
        var timeoutSeconds = 120.0

        init() {}

        init(_ arguments: [String]) throws {
            var options = OptionReader(arguments)
            while let argument = options.next() {
                switch argument {
                case "--host": host = try options.value(argument)
                case "--port":
                    guard let p = UInt16(try options.value(argument)) else { throw BenchmarkError("--port: expected 1-65535") }
                    port = p
                case "--sessions": sessions = try options.number(argument)
                case "--count": count = try options.number(argument)
                case "--size": size = try options.number(argument)
                case "--to": recipient = try options.value(argument)
                case "--from": sender = try options.value(argument)
                case "--timeout": timeoutSeconds = Double(try options.number(argument))
                default: throw BenchmarkError("latency: unknown option \(argument)")
                }
            }
            guard port != 0 else { throw BenchmarkError("latency needs --port") }
            guard ["127.0.0.1", "localhost"].contains(host) else { throw BenchmarkError("latency: loopback only") }
            if host == "localhost" { host = "127.0.0.1" }
        }
    }

    /// What a run measured.
    struct Result {
        var sessions: Int
        var size: Int
        /// Messages answered with 250.
        var delivered: Int
        var failures: Int
        var wallSeconds: Double
        /// Final-dot-to-250 latencies in seconds, sorted.
        var latencies: [Double]
        var firstError: String?

        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return .nan }
            return latencies[min(latencies.count - 1, Int(p / 100 * Double(latencies.count)))]
        }

        var messagesPerSecond: Double { Double(delivered) / max(wallSeconds, 1e-9) }

        var summary: String {
            var text = "latency size=\(size) sessions=\(sessions): \(delivered) delivered, \(failures) failed, "
                + "\(Formatting.rate(messagesPerSecond)) msg/s, dot→250 p50 \(Formatting.fixed(percentile(50) * 1000, decimals: 2)) ms "
                + "p99 \(Formatting.fixed(percentile(99) * 1000, decimals: 2)) ms max \(Formatting.fixed((latencies.last ?? .nan) * 1000, decimals: 2)) ms"
            if let firstError { text += " (first error: \(firstError))" }
            return text
        }
    }

    let options: Options

    func run() throws -> Result {
        let body = Self.body(size: options.size)
        let collected = Collected()
        let group = DispatchGroup()
        let start = MonotonicClock.now()
        for session in 0..<options.sessions {
            // Spread the messages: the first `count % sessions` sessions send one more.
            let share = options.count / options.sessions + (session < options.count % options.sessions ? 1 : 0)
            guard share > 0 else { continue }
            group.enter()
            let thread = Thread { [options] in
                var latencies: [Double] = []
                var failure: String?
                do {
                    try Self.session(options: options, messages: share, body: body, latencies: &latencies)
                } catch {
                    failure = "\(error)"
                }
                collected.add(latencies: latencies, expected: share, error: failure)
                group.leave()
            }
            thread.stackSize = 256 * 1024
            thread.start()
        }
        group.wait()
        let wall = MonotonicClock.seconds(since: start)
        let snapshot = collected.snapshot()
        return Result(sessions: options.sessions, size: options.size, delivered: snapshot.latencies.count,
                      failures: options.count - snapshot.latencies.count, wallSeconds: wall,
                      latencies: snapshot.latencies.sorted(), firstError: snapshot.firstError)
    }

    /// The wire form of a message of about `size` bytes (headers, 72-column lines, CRLF, ends in `.\r\n`).
    static func body(size: Int) -> [UInt8] {
        var text = "From: <a@example.test>\r\nTo: <alice@example.test>\r\nSubject: latency probe\r\n\r\n"
        let line = String(repeating: "x", count: 70) + "\r\n"
        while text.utf8.count + line.utf8.count <= size { text += line }
        text += ".\r\n"
        return Array(text.utf8)
    }

    /// One connection: EHLO, then `messages` transactions, then QUIT.
    private static func session(options: Options, messages: Int, body: [UInt8], latencies: inout [Double]) throws {
        let connection = try LineConnection(host: options.host, port: options.port, timeoutSeconds: options.timeoutSeconds)
        defer { connection.close() }
        try connection.expect(220)
        try connection.send("EHLO latency.example.test\r\n")
        try connection.expect(250)
        let deadline = MonotonicClock.now() + UInt64(options.timeoutSeconds * 1e9)
        for _ in 0..<messages {
            guard MonotonicClock.now() < deadline else { throw BenchmarkError("session timed out") }
            try connection.send("MAIL FROM:<\(options.sender)>\r\n")
            try connection.expect(250)
            try connection.send("RCPT TO:<\(options.recipient)>\r\n")
            try connection.expect(250)
            try connection.send("DATA\r\n")
            try connection.expect(354)
            // Everything but the final ".\r\n" first, so the clock starts when the end marker leaves.
            try connection.send(body[..<(body.count - 3)])
            let start = MonotonicClock.now()
            try connection.send(body[(body.count - 3)...])
            try connection.expect(250)
            latencies.append(MonotonicClock.seconds(since: start))
        }
        try connection.send("QUIT\r\n")
        _ = try? connection.expect(221)
    }

    /// Results gathered from the session threads.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var latencies: [Double] = []
        private var firstError: String?

        func add(latencies more: [Double], expected: Int, error: String?) {
            lock.lock()
            defer { lock.unlock() }
            latencies += more
            if firstError == nil, let error { firstError = error }
        }

        func snapshot() -> (latencies: [Double], firstError: String?) {
            lock.lock()
            defer { lock.unlock() }
            return (latencies, firstError)
        }
    }
}
