// MetricsExposition: writes a server's counters, queue gauges and process figures in the Prometheus text
// exposition format 0.0.4 (# HELP, # TYPE, one sample per line; counters end in _total; the histogram has
// cumulative _bucket{le=...} lines, _sum and _count). Pure: values in, text out.

/// The text of one `GET /metrics` answer.
struct MetricsExposition {
    /// The queue by state, read from the queue directory when scraped.
    struct QueueFigures: Sendable, Equatable {
        /// Messages and the age in seconds of the oldest (by arrival), per state: "active", "held", "failed".
        var messages: [String: Int] = [:]
        var oldestAgeSeconds: [String: Int] = [:]
        static let states = ["active", "held", "failed"]
    }

    /// The content type of format 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    var counters: ServerMetrics.Snapshot
    /// Listener names to show even when nothing was counted for them yet (zero series keep rate() right).
    var listeners: [String]
    var openConnections: Int
    /// nil when outbound delivery (the queue) is off.
    var queue: QueueFigures?
    var process: ProcessStatistics

    func render() -> String {
        var out = ""
        let smtpListeners = listeners.filter { $0 == "smtp" || $0.hasPrefix("submission") }
        let tlsListeners = listeners.filter { $0 != "metrics" }

        family(&out, "postoffice_connections_total", "counter", "Connections accepted, by listener.",
               labelled("listener", counters.connections, zeros: listeners))
        family(&out, "postoffice_connections_open", "gauge", "Connections open now (all listeners).",
               [("", openConnections)])
        family(&out, "postoffice_messages_accepted_total", "counter",
               "Messages answered 250 after DATA (durably stored), by listener.",
               labelled("listener", counters.messagesAccepted, zeros: smtpListeners))
        family(&out, "postoffice_smtp_refusals_total", "counter",
               "SMTP replies refusing a connection, command, recipient or message (4xx and 5xx), by reply code.",
               labelled("code", Dictionary(uniqueKeysWithValues: counters.refusals.map { (String($0.key), $0.value) }), zeros: []))
        family(&out, "postoffice_received_bytes_total", "counter",
               "Bytes received from clients (after TLS decryption), by listener.",
               labelled("listener", counters.bytesReceived, zeros: listeners.filter { $0 != "metrics" }))
        family(&out, "postoffice_deliveries_total", "counter",
               "Recipients of accepted messages, by destination: local (Maildir or deliver hook) or queued (outbound).",
               labelled("destination", counters.deliveries, zeros: ["local", "queued"]))
        family(&out, "postoffice_outbound_recipients_total", "counter",
               "Outbound delivery attempts per recipient, by result: sent, deferred (retried later) or failed.",
               labelled("result", counters.outbound, zeros: ["sent", "deferred", "failed"]))
        family(&out, "postoffice_deferrals_total", "counter",
               "Outbound recipient attempts that failed temporarily and will be retried.",
               [("", counters.outbound["deferred"] ?? 0)])
        family(&out, "postoffice_bounces_total", "counter",
               "Delivery status notifications queued, by kind: failure (a bounce), delay, success, double_bounce.",
               labelled("kind", counters.reports, zeros: ["failure", "delay", "success", "double_bounce"]))
        if let queue {
            family(&out, "postoffice_queue_messages", "gauge",
                   "Messages in the outbound queue, by state: active (waiting or being tried), held, failed (bounce pending).",
                   labelled("state", queue.messages, zeros: QueueFigures.states))
            family(&out, "postoffice_queue_oldest_age_seconds", "gauge",
                   "Age of the oldest message in the outbound queue by arrival, by state (0 when there is none).",
                   labelled("state", queue.oldestAgeSeconds, zeros: QueueFigures.states))
        }
        family(&out, "postoffice_tls_handshakes_total", "counter", "TLS handshakes completed with clients, by listener.",
               labelled("listener", counters.tlsHandshakes, zeros: tlsListeners))
        family(&out, "postoffice_tls_failures_total", "counter",
               "TLS handshakes or sessions with clients that failed, by listener.",
               labelled("listener", counters.tlsFailures, zeros: tlsListeners))
        family(&out, "postoffice_auth_failures_total", "counter", "SMTP AUTH attempts refused, by listener.",
               labelled("listener", counters.authenticationFailures, zeros: smtpListeners))
        family(&out, "postoffice_pop3_login_failures_total", "counter", "POP3 logins refused (wrong password or throttled).",
               [("", counters.pop3LoginFailures)])
        family(&out, "postoffice_pop3_retrieved_total", "counter", "Messages sent whole by POP3 RETR.",
               [("", counters.pop3Retrieved)])
        family(&out, "postoffice_pop3_deleted_total", "counter", "Messages deleted by POP3 clients (DELE, then QUIT).",
               [("", counters.pop3Deleted)])
        histogram(&out)
        if let resident = process.residentBytes {
            family(&out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [("", resident)])
        }
        if let descriptors = process.openDescriptors {
            family(&out, "process_open_fds", "gauge", "Number of open file descriptors.", [("", descriptors)])
        }
        return out
    }

    /// The commit latency histogram: cumulative buckets in seconds.
    private func histogram(_ out: inout String) {
        let name = "postoffice_commit_latency_seconds"
        out += "# HELP \(name) Time from the end of DATA to the durable 250 reply, in seconds.\n"
        out += "# TYPE \(name) histogram\n"
        var cumulative = 0
        for (index, bound) in ServerMetrics.latencyBuckets.enumerated() {
            cumulative += counters.latencyCounts[index]
            out += "\(name)_bucket{le=\"\(Self.number(bound))\"} \(cumulative)\n"
        }
        cumulative += counters.latencyCounts[ServerMetrics.latencyBuckets.count]
        out += "\(name)_bucket{le=\"+Inf\"} \(cumulative)\n"
        out += "\(name)_sum \(Self.number(Double(counters.latencySumMicroseconds) / 1_000_000))\n"
        out += "\(name)_count \(counters.latencyCount)\n"
    }

    /// One metric family; a sample's label text is "" or `name="value"`.
    private func family(_ out: inout String, _ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
        out += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
        for (labels, value) in samples {
            out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n"
        }
    }

    /// Samples for each label value counted, plus zero for each in `zeros` not yet counted; sorted.
    private func labelled(_ label: String, _ values: [String: Int], zeros: [String]) -> [(String, Int)] {
        var all = values
        for value in zeros where all[value] == nil { all[value] = 0 }
        return all.sorted { $0.key < $1.key }.map { ("\(label)=\"\(Self.escapeLabel($0.key))\"", $0.value) }
    }

    /// A float as Prometheus reads it ("0.005", "1", "2.5").
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabel(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    /// Help text escapes backslash and line feed.
    static func escapeHelp(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }
}
