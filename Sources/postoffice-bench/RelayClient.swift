// RelayClient: the relay benchmark's own SMTP client for the latency runs. N sessions send their share of
// the messages over one connection each; every message carries an `X-Relay-Bench: <tag>` header, and the
// client notes the wall-clock time (CLOCK_REALTIME, the clock file times use) at which the MTA's 250 for
// it arrived. The sink's dump of the same message says when it arrived there (RelaySink.harvest).

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Sends tagged messages and records when each was acknowledged.
struct RelayClient {
    var port: UInt16
    var sessions: Int
    var count: Int
    var size: Int
    var sender: String
    var recipient: String
    /// Distinguishes this run's tags from any other run's.
    var runTag: String
    var timeoutSeconds = 120.0

    struct Result {
        /// Tag → CLOCK_REALTIME nanoseconds when the 250 to the final "." was read.
        var acknowledged: [String: Int64]
        /// Final-dot-to-250 latencies in seconds (the MTA's own commit time), unsorted.
        var commitLatencies: [Double]
        var wallSeconds: Double
        var firstError: String?
    }

    static func realtimeNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    func run() -> Result {
        let collected = Collected()
        let group = DispatchGroup()
        let start = MonotonicClock.now()
        for session in 0..<sessions {
            let share = count / sessions + (session < count % sessions ? 1 : 0)
            guard share > 0 else { continue }
            group.enter()
            let thread = Thread { [self] in
                var acknowledged: [(String, Int64)] = []
                var latencies: [Double] = []
                var failure: String?
                do {
                    try self.session(number: session, messages: share, acknowledged: &acknowledged, latencies: &latencies)
                } catch {
                    failure = "\(error)"
                }
                collected.add(acknowledged, latencies, failure)
                group.leave()
            }
            thread.stackSize = 256 * 1024
            thread.start()
        }
        group.wait()
        let snapshot = collected.snapshot()
        return Result(acknowledged: snapshot.acknowledged, commitLatencies: snapshot.latencies,
                      wallSeconds: MonotonicClock.seconds(since: start), firstError: snapshot.firstError)
    }

    /// One message of about `size` bytes (headers included), ending in ".\r\n".
    private func message(tag: String) -> [UInt8] {
        var text = "From: <\(sender)>\r\nTo: <\(recipient)>\r\nSubject: relay benchmark \(tag)\r\n"
            + "Message-ID: <\(tag)@postoffice-bench.localdomain>\r\nX-Relay-Bench: \(tag)\r\n\r\n"
        let line = String(repeating: "x", count: 76) + "\r\n"
        while text.utf8.count + line.utf8.count <= size { text += line }
        text += ".\r\n"
        return Array(text.utf8)
    }

    private func session(number: Int, messages: Int, acknowledged: inout [(String, Int64)], latencies: inout [Double]) throws {
        let connection = try LineConnection(host: "127.0.0.1", port: port, timeoutSeconds: timeoutSeconds)
        defer { connection.close() }
        try connection.expect(220)
        try connection.send("EHLO relay-bench.localdomain\r\n")
        try connection.expect(250)
        for index in 0..<messages {
            let tag = "\(runTag)-\(number)-\(index)"
            let body = message(tag: tag)
            try connection.send("MAIL FROM:<\(sender)>\r\n")
            try connection.expect(250)
            try connection.send("RCPT TO:<\(recipient)>\r\n")
            try connection.expect(250)
            try connection.send("DATA\r\n")
            try connection.expect(354)
            try connection.send(body[..<(body.count - 3)])
            let start = MonotonicClock.now()
            try connection.send(body[(body.count - 3)...])
            try connection.expect(250)
            acknowledged.append((tag, Self.realtimeNanoseconds()))
            latencies.append(MonotonicClock.seconds(since: start))
        }
        try connection.send("QUIT\r\n")
        _ = try? connection.expect(221)
    }

    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var acknowledged: [String: Int64] = [:]
        private var latencies: [Double] = []
        private var firstError: String?

        func add(_ more: [(String, Int64)], _ moreLatencies: [Double], _ error: String?) {
            lock.lock()
            defer { lock.unlock() }
            for (tag, time) in more { acknowledged[tag] = time }
            latencies += moreLatencies
            if firstError == nil, let error { firstError = error }
        }

        func snapshot() -> (acknowledged: [String: Int64], latencies: [Double], firstError: String?) {
            lock.lock()
            defer { lock.unlock() }
            return (acknowledged, latencies, firstError)
        }
    }
}
