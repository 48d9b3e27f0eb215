// ServerMetrics: the counters and the commit-latency histogram of one server, which sessions and the queue
// manager bump as things happen and `GET /metrics` reads. One Mutex around plain integers: each event costs
// one uncontended lock, cheap next to the fsync a message already waits for. Bytes received are counted by
// each session and added here once per message and at the session's end, not on every read. Owned by the
// ServerContext (injected, never global), so two servers in one process count apart.

import PostOfficeCore
import Synchronization

/// What a server has counted since it started. Thread-safe.
final class ServerMetrics: Sendable {
    /// Upper bounds of the commit-latency buckets, in seconds: 1 ms (a cached disk) to 10 s (a stalled one).
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// The counters at one moment; a copy, so rendering it takes no lock.
    struct Snapshot: Sendable, Equatable {
        /// Connections accepted, by listener name ("smtp", "submissions", "pop3", "metrics", ...).
        var connections: [String: Int] = [:]
        /// Messages answered with 250 after DATA, by listener name.
        var messagesAccepted: [String: Int] = [:]
        /// SMTP refusals (4xx/5xx replies to any command or to DATA), by reply code.
        var refusals: [Int: Int] = [:]
        /// Bytes read from clients (after TLS), by listener name. Sessions report them at the end of each
        /// message and when they close, so a scrape during a session lags by what it read since.
        var bytesReceived: [String: Int] = [:]
        /// Recipients of accepted messages, by where they went: "local" (a Maildir or the deliver hook)
        /// or "queued" (the outbound queue).
        var deliveries: [String: Int] = [:]
        /// Outbound attempts per recipient, by result: "sent", "deferred", "failed".
        var outbound: [String: Int] = [:]
        /// Delivery status notifications queued, by kind ("failure" is a bounce).
        var reports: [String: Int] = [:]
        /// TLS handshakes completed and failed on inbound connections, by listener name.
        var tlsHandshakes: [String: Int] = [:]
        var tlsFailures: [String: Int] = [:]
        /// SMTP AUTH failures, by listener name.
        var authenticationFailures: [String: Int] = [:]
        var pop3LoginFailures = 0
        var pop3Retrieved = 0
        var pop3Deleted = 0
        /// Commit latency: per-bucket counts (not cumulative; one more for +Inf), sum in microseconds, count.
        var latencyCounts = [Int](repeating: 0, count: ServerMetrics.latencyBuckets.count + 1)
        var latencySumMicroseconds = 0
        var latencyCount = 0
    }

    private let state = Mutex(Snapshot())

    init() {}

    /// A copy of every counter.
    var snapshot: Snapshot { state.withLock { $0 } }

    func connectionAccepted(listener: String) { state.withLock { $0.connections[listener, default: 0] += 1 } }

    /// Bytes a session read since it last reported (see ``Snapshot/bytesReceived``); nothing for 0.
    func received(bytes: Int, listener: String) {
        guard bytes > 0 else { return }
        state.withLock { $0.bytesReceived[listener, default: 0] += bytes }
    }

    func refused(code: Int) { state.withLock { $0.refusals[code, default: 0] += 1 } }

    /// A message answered 250: its listener, its recipients by destination, and the time from the end of
    /// DATA to the durable reply (microseconds of the injected clock; a clock that went back counts as 0),
    /// and the bytes the session read since it last reported them (one lock for both).
    func messageAccepted(
        listener: String, localRecipients: Int, queuedRecipients: Int, commitMicroseconds: Int, receivedBytes: Int = 0
    ) {
        let seconds = Double(max(0, commitMicroseconds)) / 1_000_000
        let bucket = Self.latencyBuckets.firstIndex { seconds <= $0 } ?? Self.latencyBuckets.count
        state.withLock {
            $0.messagesAccepted[listener, default: 0] += 1
            if receivedBytes > 0 { $0.bytesReceived[listener, default: 0] += receivedBytes }
            $0.deliveries["local", default: 0] += localRecipients
            $0.deliveries["queued", default: 0] += queuedRecipients
            $0.latencyCounts[bucket] += 1
            $0.latencySumMicroseconds += max(0, commitMicroseconds)
            $0.latencyCount += 1
        }
    }

    /// One outbound attempt's results: recipients sent, deferred (to be retried) and failed.
    func outboundAttempt(sent: Int, deferred: Int, failed: Int) {
        state.withLock {
            $0.outbound["sent", default: 0] += sent
            $0.outbound["deferred", default: 0] += deferred
            $0.outbound["failed", default: 0] += failed
        }
    }

    func reportQueued(kind: String) { state.withLock { $0.reports[kind, default: 0] += 1 } }

    func tlsHandshake(listener: String) { state.withLock { $0.tlsHandshakes[listener, default: 0] += 1 } }

    func tlsFailure(listener: String) { state.withLock { $0.tlsFailures[listener, default: 0] += 1 } }

    func authenticationFailed(listener: String) {
        state.withLock { $0.authenticationFailures[listener, default: 0] += 1 }
    }

    func pop3LoginFailed() { state.withLock { $0.pop3LoginFailures += 1 } }

    func pop3Retrieved() { state.withLock { $0.pop3Retrieved += 1 } }

    /// Messages removed in a POP3 UPDATE (RFC 1939 §6).
    func pop3Deleted(_ count: Int) { state.withLock { $0.pop3Deleted += count } }
}
