// QueueManager: decides when each queued message is tried again and where. A periodic scan (on the storage
// pool: it reads the disk) finds due recipients, groups them by destination domain, and starts attempts up to
// a per-destination concurrency limit; results are recorded with the next attempt from the RetrySchedule
// (backoff by age, with jitter) or, past the queue lifetime, as a final failure. A destination that fails
// to answer is paused as a whole (a circuit breaker kept apart from each message's own backoff), and when it
// answers again its waiting mail goes at once instead of waiting out every message's timer.

import PostOfficeCore
import PostOfficeQueue

/// Schedules the outbound queue's delivery attempts. Thread-safe; all state is behind one lock.
final class QueueManager: @unchecked Sendable {
    struct Settings: Sendable {
        var schedule = RetrySchedule()
        /// Attempts in flight to one domain at first, and at most (raised by one per success, halved on failure).
        var initialConcurrency = 5
        var maximumConcurrency = 20
        /// How long a destination that did not answer is left alone before one probe (seconds).
        var destinationBackoff = 300
    }

    private let store: QueueStore
    private let transport: any OutboundTransport
    private let clock: any MailClock
    private let random: any RandomSource
    private let logSink: any LogSink
    private let settings: Settings
    private let lock = Lock()
    /// Messages with an attempt in flight (one attempt per message and domain at a time).
    private var inFlight: Set<String> = []
    private var destinations: [String: Destination] = [:]
    private var isScanning = false
    private var rescanRequested = false
    /// Asks for a scan soon, off the caller's thread (the runtime submits one to the storage pool): used
    /// when a destination answers again and its waiting mail was made due.
    var requestScan: (@Sendable () -> Void)?

    private struct Destination {
        var active = 0
        var limit: Int
        /// While set and in the future, the destination is not tried (its breaker is open).
        var pausedUntil: MailTime?
    }

    init(
        store: QueueStore, transport: any OutboundTransport, clock: any MailClock, random: any RandomSource,
        logSink: any LogSink, settings: Settings = Settings()
    ) {
        self.store = store
        self.transport = transport
        self.clock = clock
        self.random = random
        self.logSink = logSink
        self.settings = settings
    }

    /// Scans the queue and starts every attempt that is due and allowed. Blocking (reads the queue): call it
    /// from the storage pool or a test. A scan asked for while one runs is run again right after it.
    func scan() {
        let proceed: Bool = lock.withLock {
            if isScanning {
                rescanRequested = true
                return false
            }
            isScanning = true
            return true
        }
        guard proceed else { return }
        repeat {
            runScan()
        } while lock.withLock({
            let again = rescanRequested
            rescanRequested = false
            if !again { isScanning = false }
            return again
        })
    }

    /// Makes every waiting recipient (of `domain`, or all) due now and closes the breakers: ETRN, `queue flush`.
    func flush(domain: String? = nil) {
        lock.withLock {
            if let domain {
                destinations[domain.lowercased()]?.pausedUntil = nil
            } else {
                for key in destinations.keys { destinations[key]?.pausedUntil = nil }
            }
        }
        guard let messages = try? store.scan() else { return }
        for message in messages where message.location == .active {
            let wanted = message.envelope.recipients.contains { domain == nil || $0.address.normalizedDomain == domain!.lowercased() }
            if wanted { _ = try? store.requeue(message.id) }
        }
    }

    /// Attempts in flight now (for tests and metrics).
    var activeAttempts: Int { lock.withLock { inFlight.count } }

    private func runScan() {
        let now = clock.now()
        let messages: [QueueMessage]
        do {
            messages = try store.scan()
        } catch {
            logSink.log(LogRecord(.error, "queue.scan_failed", [("error", "\(error)")]))
            return
        }
        for message in messages where message.location == .active && !message.state.isHeld {
            if expireIfDue(message, now: now) { continue }
            var byDomain: [String: [Int]] = [:]
            for (index, recipient) in message.state.recipients.enumerated()
            where !recipient.status.isFinal && recipient.nextAttempt <= now {
                byDomain[message.envelope.recipients[index].address.normalizedDomain, default: []].append(index)
            }
            for (domain, indices) in byDomain.sorted(by: { $0.key < $1.key }) {
                start(message, indices: indices, domain: domain, now: now)
            }
        }
    }

    /// Past the queue lifetime, every unfinished recipient fails for good (4.4.7, RFC 3463).
    private func expireIfDue(_ message: QueueMessage, now: MailTime) -> Bool {
        guard settings.schedule.isExpired(arrival: message.envelope.arrival, now: now, isBounce: message.envelope.isBounce)
        else { return false }
        var results: [Int: QueueAttemptResult] = [:]
        for (index, recipient) in message.state.recipients.enumerated() where !recipient.status.isFinal {
            let last = recipient.status.reply
            results[index] = .permanentFailure(
                EnhancedStatusCode(4, 4, 7),
                "Message expired after \(settings.schedule.maximalQueueLifetime / 3600) hours in the queue" + (last.isEmpty ? "" : "; last reply: \(last)"))
        }
        guard !results.isEmpty else { return false }
        _ = try? store.record(message.id, results: results)
        logSink.log(LogRecord(.warning, "queue.expired", [("queue_id", message.id.description)]))
        return true
    }

    private func start(_ message: QueueMessage, indices: [Int], domain: String, now: MailTime) {
        let key = message.id.description + "/" + domain
        let admitted: Bool = lock.withLock {
            guard !inFlight.contains(key) else { return false }
            var destination = destinations[domain] ?? Destination(limit: settings.initialConcurrency)
            if let paused = destination.pausedUntil, paused > now { return false }
            guard destination.active < destination.limit else { return false }
            destination.active += 1
            destinations[domain] = destination
            inFlight.insert(key)
            return true
        }
        guard admitted else { return }
        transport.deliver(message, recipients: indices, domain: domain, store: store) { [self] attempt in
            finish(message, domain: domain, key: key, attempt: attempt)
        }
    }

    private func finish(_ message: QueueMessage, domain: String, key: String, attempt: OutboundAttempt) {
        let now = clock.now()
        var results: [Int: QueueAttemptResult] = [:]
        let next = settings.schedule.nextAttempt(
            arrival: message.envelope.arrival, now: now, isBounce: message.envelope.isBounce, random: random)
        for (index, outcome) in attempt.outcomes {
            switch outcome {
            case .delivered(let reply):
                results[index] = .delivered(reply)
            case .failed(let code, let reply):
                results[index] = .permanentFailure(code, reply)
            case .deferred(let code, let reply):
                if let next {
                    results[index] = .temporaryFailure(code, reply, nextAttempt: next)
                } else {
                    // The next try would fall past the lifetime: this was the last one.
                    results[index] = .permanentFailure(EnhancedStatusCode(4, 4, 7), "Message expired; last reply: \(reply)")
                }
            }
        }
        do {
            _ = try store.record(message.id, results: results)
        } catch {
            logSink.log(LogRecord(.error, "queue.record_failed", [("queue_id", message.id.description), ("error", "\(error)")]))
        }
        for (index, outcome) in attempt.outcomes.sorted(by: { $0.key < $1.key }) {
            let (status, reply): (String, String)
            switch outcome {
            case .delivered(let text): (status, reply) = ("sent", text)
            case .deferred(_, let text): (status, reply) = ("deferred", text)
            case .failed(_, let text): (status, reply) = ("failed", text)
            }
            logSink.log(LogRecord(status == "sent" ? .info : .warning, "queue.attempt", [
                ("queue_id", message.id.description), ("to", message.envelope.recipients[index].address.description),
                ("status", status), ("reply", reply),
            ]))
        }
        let released: Bool = lock.withLock {
            inFlight.remove(key)
            var destination = destinations[domain] ?? Destination(limit: settings.initialConcurrency)
            destination.active = max(0, destination.active - 1)
            let wasPaused = destination.pausedUntil != nil
            if attempt.destinationReachable {
                destination.pausedUntil = nil
                destination.limit = min(settings.maximumConcurrency, destination.limit + 1)
            } else {
                destination.pausedUntil = MailTime(seconds: now.seconds + settings.destinationBackoff)
                destination.limit = max(1, destination.limit / 2)
            }
            destinations[domain] = destination
            return wasPaused && attempt.destinationReachable
        }
        // The destination answers again: what waited for it goes now, not at each message's own time.
        if released {
            flush(domain: domain)
            requestScan?()
        }
    }
}
