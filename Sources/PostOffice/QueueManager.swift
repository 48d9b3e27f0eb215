// QueueManager: decides when each queued message is tried again and where. A periodic scan (on the storage
// pool: it reads the disk) finds due recipients, groups them by destination domain, and starts attempts up to
// a per-destination concurrency limit; a commit hands its message over in memory and asks only for a pass
// over new mail (those messages, no listing or read), mail another process queued is found by a pickup pass
// (the control socket's `pickup`: a listing, only unseen files read), and mail held back by the limit waits in
// memory until a slot frees. Results are
// recorded with the next attempt from the RetrySchedule
// (backoff by age, with jitter) or, past the queue lifetime, as a final failure. A destination that fails
// to answer is paused as a whole (a circuit breaker kept apart from each message's own backoff), and when it
// answers again its waiting mail goes at once instead of waiting out every message's timer. After each
// recorded attempt (and each scan) it sends the delivery status notifications that are due (BounceGenerator):
// failure reports, one delay warning, and the postmaster notice about a report that failed; each passes the
// embedder's checkReport hook first (ReportReview). Recipients in a local domain (reports to local senders)
// are delivered through the injected QueueLocalDelivery. A transport's answer is handled on the storage pool.
// After each change to the mail waiting for a slot or to the slots in use it tells `backlogChanged` (the
// runtime's InflowGate, which holds clients back while the backlog is above its threshold).

import PostOfficeCore
import PostOfficeDSN
import PostOfficeDelivery
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
        /// This server's name in reports (`Reporting-MTA`, `MAILER-DAEMON@`).
        var hostname = "localhost"
        /// Where reports about undeliverable reports go; nil is `postmaster@hostname`.
        var postmaster: MailAddress?
        /// Seconds after arrival before the one delay warning (`delay_warning_time`); nil sends none.
        var delayWarningTime: Int? = 4 * 3600
        /// Without RET=, a failure report returns the whole message up to this size, else its headers.
        var returnSizeLimit = 1 << 20
        /// Signs the reports (DKIM) when their From: domain (the host name) has a key.
        var signer: (any OutgoingMessageSigner)?
    }

    private let store: QueueStore
    private let transport: any OutboundTransport
    private let localDelivery: (any QueueLocalDelivery)?
    private let bounces: BounceGenerator
    private let clock: any MailClock
    private let random: any RandomSource
    private let logSink: any LogSink
    private let settings: Settings
    /// Counts attempts and reports for `GET /metrics`; nil counts nothing.
    private let metrics: ServerMetrics?
    private let lock = Lock()
    /// Messages with an attempt in flight (one attempt per message and domain at a time).
    private var inFlight: Set<String> = []
    private var destinations: [String: Destination] = [:]
    private var isScanning = false
    /// The pass asked for while one ran (the widest asked for), run right after it.
    private var rescan: Pass?
    /// Due mail that found its destination at its concurrency limit, in arrival order per destination; an
    /// attempt that finishes there asks for a pass that starts it, instead of leaving it to the periodic scan.
    /// `waitingKeys` ("id/domain") says which entries still wait (an entry started meanwhile is dropped).
    private var waiting: [String: [QueueID]] = [:]
    private var waitingKeys: Set<String> = []
    /// `waitingKeys.count` and the sum of every destination's `active`, kept as they change (for the backlog).
    private var totalWaiting = 0
    private var slotsInUse = 0
    /// Destinations whose breaker was opened and not yet closed by an answer: their waiting mail is not
    /// counted in the backlog while the pause lasts.
    private var pausedDomains: Set<String> = []
    /// The active messages the last full scan listed: a pass for new mail leaves those to it.
    private var known: Set<QueueID> = []
    /// Messages committed in this process since the last pass over new mail (``committed(_:)``).
    private var arrivals: [QueueCommit] = []
    /// Serializes report generation: a message's reports are decided on its state read under this lock,
    /// so a scan and an attempt finishing on another thread cannot both send the same report.
    private let reportLock = Lock()
    /// Asks for a scan soon, off the caller's thread (the runtime submits one to the storage pool): used
    /// when a destination answers again and its waiting mail was made due.
    var requestScan: (@Sendable () -> Void)?
    /// Told of each report queued (the embedder's ``PostOfficeHooks/reportQueued``); called on the thread
    /// that queued it (the storage pool or a transport's completion), never an event loop's.
    var reportQueued: (@Sendable (QueuedReport) -> Void)?
    /// Asks for ``scanNewMail()`` soon, off the caller's thread (a commit, a freed slot); nil uses `requestScan`.
    var requestNewMailScan: (@Sendable () -> Void)?
    /// Decides each report before it is queued (the embedder's ``PostOfficeHooks/checkReport``).
    var checkReport: (@Sendable (OutgoingReport) throws -> ReportDecision)?
    /// Runs work off the caller's thread, on the storage pool (the runtime sets it): a transport may answer
    /// on an event loop, and recording the attempt and making its reports read and write the disk and call
    /// the embedder's hooks. nil runs it at once (tests with a scripted transport).
    var offload: (@Sendable (@escaping @Sendable () -> Void) -> Void)?
    /// Told of the backlog after each change, with the attempts that change started (`in_flow_delay`: the
    /// runtime's ``InflowGate``); called outside the lock, on the thread that made the change. nil: not counted.
    var backlogChanged: (@Sendable (InflowGate.Backlog, _ started: Int) -> Void)?

    private struct Destination {
        var active = 0
        /// Entries of `waitingKeys` for this destination.
        var waiting = 0
        var limit: Int
        /// While set and in the future, the destination is not tried (its breaker is open).
        var pausedUntil: MailTime?
    }

    init(
        store: QueueStore, transport: any OutboundTransport, localDelivery: (any QueueLocalDelivery)? = nil,
        clock: any MailClock, random: any RandomSource, logSink: any LogSink, settings: Settings = Settings(),
        metrics: ServerMetrics? = nil
    ) {
        self.metrics = metrics
        self.store = store
        self.transport = transport
        self.localDelivery = localDelivery
        bounces = BounceGenerator(
            policy: DSNPolicy(
                postmaster: settings.postmaster ?? MailAddress(localPart: "postmaster", domain: settings.hostname),
                delayWarningTime: settings.delayWarningTime),
            composer: DSNComposer(hostname: settings.hostname, returnSizeLimit: settings.returnSizeLimit),
            schedule: settings.schedule, signer: settings.signer)
        self.clock = clock
        self.random = random
        self.logSink = logSink
        self.settings = settings
    }

    /// What one pass over the queue covers; a wider pass does what a narrower one would.
    private enum Pass: Int, Comparable {
        /// Mail committed in this process since the last pass, and mail waiting for a freed slot.
        case newMail
        /// That, and the files in `messages/` no pass has listed yet (mail another process queued).
        case pickup
        /// Every queued message, read from disk.
        case whole

        static func < (a: Pass, b: Pass) -> Bool { a.rawValue < b.rawValue }
    }

    /// Scans the queue and starts every attempt that is due and allowed. Blocking (reads the queue): call it
    /// from the storage pool or a test. A scan asked for while one runs is run again right after it.
    func scan() { scan(.whole) }

    /// Starts what a full scan would start for mail committed since the last pass (handed over by
    /// ``committed(_:)``, not listed: no read of `messages/` or of the files) and for mail that waited for a
    /// concurrency slot now free (a full scan reads every queued message, which under load made each commit
    /// cost as much as the queue is long). Mail deferred by an attempt is left to ``scan()``, run every
    /// `queue_run_interval`; mail another process queued, to ``pickUpNewFiles()`` or ``scan()``.
    func scanNewMail() { scan(.newMail) }

    /// Does what ``scanNewMail()`` does, then lists `messages/` (the names only) and reads and considers the
    /// messages no pass has listed since the last full scan: mail another process queued (`postoffice
    /// sendmail` while the server runs, which asks for this through the control socket's `pickup`). Cheaper
    /// than ``scan()``: a directory listing and the new files, not every message.
    func pickUpNewFiles() { scan(.pickup) }

    /// Takes a message this process just committed, for the next ``scanNewMail()`` (which the caller asks for).
    func committed(_ commit: QueueCommit) {
        lock.withLock { arrivals.append(commit) }
    }

    private func scan(_ pass: Pass) {
        let proceed: Bool = lock.withLock {
            if isScanning {
                rescan = max(rescan ?? pass, pass)
                return false
            }
            isScanning = true
            return true
        }
        guard proceed else { return }
        var pass = pass
        while true {
            switch pass {
            case .whole: runScan()
            case .pickup:
                runNewMailScan()
                runPickup()
            case .newMail: runNewMailScan()
            }
            let next: Pass? = lock.withLock {
                defer { rescan = nil }
                if rescan == nil { isScanning = false }
                return rescan
            }
            guard let next else { break }
            pass = next
        }
    }

    /// Makes every waiting recipient (of `domain`, or all; with `includingSubdomains`, of its subdomains too)
    /// due now and closes the breakers: ETRN, `queue flush`.
    func flush(domain: String? = nil, includingSubdomains: Bool = false) {
        let wanted = domain.map { MailAddress.canonicalDomain($0) }
        func matches(_ candidate: String) -> Bool {
            guard let wanted else { return true }
            return candidate == wanted || (includingSubdomains && candidate.hasSuffix("." + wanted))
        }
        lock.withLock {
            for key in destinations.keys where matches(key) {
                destinations[key]?.pausedUntil = nil
                pausedDomains.remove(key)
            }
        }
        guard let messages = try? store.scan() else { return }
        for message in messages where message.location == .active {
            if message.envelope.recipients.contains(where: { matches($0.address.normalizedDomain) }) {
                _ = try? store.makeDue(message.id)
            }
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
        lock.withLock { known = Set(messages.filter { $0.location == .active }.map(\.id)) }
        for message in messages where !message.state.isHeld {
            consider(message, now: now)
        }
    }

    /// The pass of ``scanNewMail()``.
    private func runNewMailScan() {
        // Mail committed since the last pass, minus what a full scan listed (and dealt with).
        let arrived: [QueueCommit] = lock.withLock {
            defer { arrivals.removeAll() }
            return arrivals.filter { !known.contains($0.message.id) }
        }
        // The arrivals first, the time after them: each was committed before `now`, so its first attempt is
        // due (a time read first would leave mail committed meanwhile not yet due, to the periodic scan).
        let now = clock.now()
        // Mail that waited for a slot, for each destination with slots free now, oldest first.
        for domain in lock.withLock({ Array(waiting.keys) }) { startNextWaiting(domain: domain) }
        let scans = store.scansStarted
        for commit in arrived.sorted(by: { $0.message.id < $1.message.id }) {
            // No full scan started since before its rename into messages/: none listed it (one that started
            // earlier and listed it put it in `known`, and passes run one at a time), so nothing started it or
            // put it in `waiting`, and the committed copy is current: the attempt starts from it, no read.
            // Otherwise (rare: a scan every queue_run_interval) it is read, and read again at its start.
            if commit.scansBefore == scans {
                consider(commit.message, now: now, isFresh: true)
            } else if let message = try? store.load(commit.message.id), !message.state.isHeld {
                consider(message, now: now)
            }
        }
    }

    /// The listing half of ``pickUpNewFiles()``: the active messages not in `known` are read and considered,
    /// then remembered there (a pass for new mail leaves them alone, as it does those a full scan listed).
    /// `known` keeps only names still listed, so it does not grow between full scans. A message this process
    /// committed and already started is read once more and left as it is (its attempt holds the key).
    private func runPickup() {
        guard let listed = try? store.activeIDs() else { return }
        let unseen: [QueueID] = lock.withLock {
            known.formIntersection(listed)
            return listed.filter { !known.contains($0) }.sorted()
        }
        guard !unseen.isEmpty else { return }
        lock.withLock { known.formUnion(unseen) }
        let now = clock.now()
        var found = 0
        for id in unseen {
            // Gone meanwhile (delivered), or moved to corrupt/ and logged: nothing to do.
            guard let message = try? store.load(id), !message.state.isHeld else { continue }
            found += 1
            consider(message, now: now)
        }
        logSink.log(LogRecord(.debug, "queue.pickup", [("listed", String(listed.count)), ("new", String(found))]))
    }

    /// What a scan does with one message: settle it, expire it, send its due reports, start its due attempts.
    /// `isFresh`: `message` is current — committed by this process and listed by no scan (see ``runNewMailScan()``).
    private func consider(_ message: QueueMessage, now: MailTime, isFresh: Bool = false) {
        var message = message
        // A crash between writing a finished state and filing the message (removed when all delivered,
            // moved to failed/ otherwise) leaves it in the active queue: file it now, as the update would have.
        if message.location == .active, message.state.isFinished {
            guard let settled = try? store.record(message.id, results: [:]) else { return }
            message = settled
        }
        // Expiry first: a message that gives up now gets its failure report, not a delay warning.
        if message.location == .active, expireIfDue(message, now: now) { return }
        // Reports a crash or a full disk kept from going out, and delay warnings now due.
        sendReports(message, now: now)
        guard message.location == .active else { return }
        var byDomain: [String: [Int]] = [:]
        var deliveredLocally: [Int] = []
        for (index, recipient) in message.state.recipients.enumerated()
        where !recipient.status.isFinal && recipient.nextAttempt <= now {
            if message.envelope.recipients[index].isDeliveredLocally {
                deliveredLocally.append(index)
            } else {
                byDomain[message.envelope.recipients[index].address.normalizedDomain, default: []].append(index)
            }
        }
        if !deliveredLocally.isEmpty { recordLocalDeliveries(message, indices: deliveredLocally, now: now) }
        for (domain, indices) in byDomain.sorted(by: { $0.key < $1.key }) {
            start(message, indices: indices, domain: domain, now: now, isFresh: isFresh)
        }
    }

    /// Past the queue lifetime, every unfinished recipient fails for good (4.4.7, RFC 3463).
    private func expireIfDue(_ message: QueueMessage, now: MailTime) -> Bool {
        guard settings.schedule.isExpired(arrival: message.envelope.arrival, now: now, isBounce: message.envelope.isBounce)
        else { return false }
        var results: [Int: QueueAttemptResult] = [:]
        for (index, recipient) in message.state.recipients.enumerated() where !recipient.status.isFinal {
            let last = recipient.status.reply
            let lifetime = message.envelope.isBounce ? settings.schedule.bounceQueueLifetime : settings.schedule.maximalQueueLifetime
            results[index] = .permanentFailure(
                EnhancedStatusCode(4, 4, 7),
                "Message expired after \(lifetime / 3600) hours in the queue" + (last.isEmpty ? "" : "; last reply: \(last)"))
        }
        guard !results.isEmpty else { return false }
        let recorded = try? store.record(message.id, results: results)
        logSink.log(LogRecord(.warning, "queue.expired", [("queue_id", message.id.description)]))
        if let recorded { sendReports(recorded, now: now) }
        return true
    }

    /// `isFresh`: `message` was read after every attempt on it that could have finished (a new message's
    /// first pass), so it is not read again here.
    private func start(_ message: QueueMessage, indices: [Int], domain: String, now: MailTime, isFresh: Bool = false) {
        let key = message.id.description + "/" + domain
        let (admitted, backlog): (Bool, InflowGate.Backlog?) = lock.withLock {
            guard !inFlight.contains(key) else { return (false, nil) }
            var destination = destinations[domain] ?? Destination(limit: settings.initialConcurrency)
            if let paused = destination.pausedUntil, paused > now { return (false, nil) }
            guard destination.active < destination.limit else {
                guard waitingKeys.insert(key).inserted else { return (false, nil) }
                waiting[domain, default: []].append(message.id)
                destination.waiting += 1
                totalWaiting += 1
                destinations[domain] = destination
                return (false, currentBacklog(now: now))
            }
            destination.active += 1
            slotsInUse += 1
            if waitingKeys.remove(key) != nil {
                destination.waiting -= 1
                totalWaiting -= 1
            }
            destinations[domain] = destination
            inFlight.insert(key)
            return (true, currentBacklog(now: now))
        }
        if let backlog { backlogChanged?(backlog, admitted ? 1 : 0) }
        guard admitted else { return }
        // The caller's copy may be stale: an attempt that finished after the scan read the message recorded
        // its results before giving up its in-flight key. Read the message again now that this attempt holds
        // the key, so a recipient already delivered is never sent twice and a removed message is not tried.
        let reloaded = isFresh ? message : try? store.load(message.id)
        guard let current = reloaded, current.location == .active, !current.state.isHeld else {
            releaseSlot(key: key, domain: domain)
            return
        }
        let message = current
        let indices = indices.filter { index in
            index < message.state.recipients.count && !message.state.recipients[index].status.isFinal
                && message.state.recipients[index].nextAttempt <= now
        }
        guard !indices.isEmpty else {
            releaseSlot(key: key, domain: domain)
            return
        }
        if let localDelivery, localDelivery.isLocal(domain: domain) {
            // A report to a local sender or to the postmaster: into the Maildir, not out to the network.
            let outcomes = localDelivery.deliver(message, recipients: indices, store: store)
            finish(message, domain: domain, key: key, attempt: OutboundAttempt(outcomes: outcomes, destinationReachable: true))
            return
        }
        let offload = self.offload
        transport.deliver(message, recipients: indices, domain: domain, store: store) { [self] attempt in
            if let offload {
                offload { [self] in finish(message, domain: domain, key: key, attempt: attempt) }
            } else {
                finish(message, domain: domain, key: key, attempt: attempt)
            }
        }
    }

    /// Gives back a slot taken for an attempt that turned out to have nothing to do.
    private func releaseSlot(key: String, domain: String) {
        let now = clock.now()
        let (slotFreed, backlog): (Bool, InflowGate.Backlog) = lock.withLock {
            inFlight.remove(key)
            if var destination = destinations[domain], destination.active > 0 {
                destination.active -= 1
                slotsInUse -= 1
                destinations[domain] = destination
            }
            return (hasWaiting(domain), currentBacklog(now: now))
        }
        backlogChanged?(backlog, 0)
        if slotFreed { startNextWaiting(domain: domain) }
    }

    /// Starts the oldest mail waiting for a slot at `domain` right here, on the thread that freed the slot,
    /// as long as the destination has slots free, instead of asking for a pass: a pass lists the whole queue
    /// and passes run one at a time, which under load made every freed slot wait for a listing.
    private func startNextWaiting(domain: String) {
        while true {
            let now = clock.now()
            let candidate: QueueID? = lock.withLock {
                let destination = destinations[domain] ?? Destination(limit: settings.initialConcurrency)
                if let paused = destination.pausedUntil, paused > now { return nil }
                guard destination.active < destination.limit, var ids = waiting[domain] else { return nil }
                defer { waiting[domain] = ids.isEmpty ? nil : ids }
                while !ids.isEmpty {
                    let id = ids.removeFirst()
                    if waitingKeys.remove(id.description + "/" + domain) != nil {
                        destinations[domain]?.waiting -= 1
                        totalWaiting -= 1
                        return id
                    }
                }
                return nil
            }
            guard let id = candidate else { return }
            // Gone or held meanwhile: the slot it would have taken goes to the next one. The backlog it left
            // is reported by the attempt's start, or here when none starts.
            guard let message = try? store.load(id), message.location == .active, !message.state.isHeld else {
                if let backlogChanged { backlogChanged(backlog, 0) }
                continue
            }
            let indices = message.state.recipients.indices.filter { index in
                let recipient = message.state.recipients[index]
                return !recipient.status.isFinal && recipient.nextAttempt <= now
                    && message.envelope.recipients[index].address.normalizedDomain == domain
            }
            if indices.isEmpty {
                if let backlogChanged { backlogChanged(backlog, 0) }
            } else {
                start(message, indices: indices, domain: domain, now: now)
            }
        }
    }

    private func finish(_ message: QueueMessage, domain: String, key: String, attempt: OutboundAttempt) {
        let now = clock.now()
        var results: [Int: QueueAttemptResult] = [:]
        // Only a deferral needs the next time (its jitter reads the random source: a system call).
        let next = attempt.outcomes.values.contains { if case .deferred = $0 { true } else { false } }
            ? settings.schedule.nextAttempt(
                arrival: message.envelope.arrival, now: now, isBounce: message.envelope.isBounce, random: random)
            : nil
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
        // Before recording: once every recipient is delivered the message and its body are gone, and a
        // success report may need the body (RET=FULL). A crash in between sends it twice, never not at all.
        sendSuccessReports(message, attempt: attempt, now: now)
        // The destination's slot goes back now, before the results are recorded: the connection is free, and
        // the next message can use it while this one's state and removal are fsync'd. The message's in-flight
        // key is kept until its results are recorded (a stale copy must not start it again).
        let (released, slotFreed, backlog): (Bool, Bool, InflowGate.Backlog) = lock.withLock {
            var destination = destinations[domain] ?? Destination(limit: settings.initialConcurrency)
            if destination.active > 0 {
                destination.active -= 1
                slotsInUse -= 1
            }
            let wasPaused = destination.pausedUntil != nil
            if attempt.destinationReachable {
                destination.pausedUntil = nil
                destination.limit = min(settings.maximumConcurrency, destination.limit + 1)
                pausedDomains.remove(domain)
            } else {
                destination.pausedUntil = MailTime(seconds: now.seconds + settings.destinationBackoff)
                destination.limit = max(1, destination.limit / 2)
                pausedDomains.insert(domain)
            }
            destinations[domain] = destination
            return (wasPaused && attempt.destinationReachable, hasWaiting(domain), currentBacklog(now: now))
        }
        backlogChanged?(backlog, 0)
        if slotFreed && !released { startNextWaiting(domain: domain) }
        var recorded: QueueMessage?
        do {
            recorded = try store.record(message.id, results: results, remoteHost: attempt.remoteHost, logsRemoval: false)
        } catch {
            logSink.log(LogRecord(.error, "queue.record_failed", [("queue_id", message.id.description), ("error", "\(error)")]))
        }
        var tally: [String: Int] = [:]
        // Every recipient delivered: the message left the queue with this attempt; its last line says so
        // (`done=yes`, what the store's `queue.done` would have said on a line of its own).
        let removed = recorded.map { $0.location == .active && $0.state.isFinished && !$0.state.hasPermanentFailures } ?? false
        let ordered = attempt.outcomes.sorted(by: { $0.key < $1.key })
        for (position, (index, outcome)) in ordered.enumerated() {
            let (status, reply): (String, String)
            switch outcome {
            case .delivered(let text): (status, reply) = ("sent", text)
            case .deferred(_, let text): (status, reply) = ("deferred", text)
            case .failed(_, let text): (status, reply) = ("failed", text)
            }
            tally[status, default: 0] += 1
            var fields = [
                ("queue_id", message.id.description), ("to", message.envelope.recipients[index].address.description),
                ("status", status), ("reply", reply),
            ]
            if removed && position == ordered.count - 1 { fields.append(("done", "yes")) }
            logSink.log(LogRecord(status == "sent" ? .info : .warning, "queue.attempt", fields))
        }
        metrics?.outboundAttempt(sent: tally["sent"] ?? 0, deferred: tally["deferred"] ?? 0, failed: tally["failed"] ?? 0)
        lock.withLock { _ = inFlight.remove(key) }
        // After the attempt's log lines, so the log tells the failure before the report about it.
        if let recorded { sendReports(recorded, now: now) }
        // The destination answers again: what waited for it goes now, not at each message's own time.
        if released {
            flush(domain: domain)
            requestScan?()
        }
    }

    /// Mail waiting for a slot, less that of paused destinations, and the slots in use (call under `lock`).
    private func currentBacklog(now: MailTime) -> InflowGate.Backlog {
        var ready = totalWaiting
        for domain in pausedDomains {
            if let destination = destinations[domain], let paused = destination.pausedUntil, paused > now {
                ready -= destination.waiting
            }
        }
        return InflowGate.Backlog(waiting: max(0, ready), inFlight: slotsInUse)
    }

    /// The backlog now (for tests and metrics).
    var backlog: InflowGate.Backlog {
        let now = clock.now()
        return lock.withLock { currentBacklog(now: now) }
    }

    /// Whether mail waits for a slot at `domain` (call under `lock`).
    private func hasWaiting(_ domain: String) -> Bool {
        waiting[domain]?.contains { waitingKeys.contains($0.description + "/" + domain) } ?? false
    }

    // MARK: - Reports

    /// Sends the reports `candidate` needs now, then marks what they covered; a message in `failed/` whose
    /// failures are all dealt with is deleted. `candidate` may be stale (a scan's copy): it only decides
    /// whether to look; the decision is made again on the state read under ``reportLock``.
    private func sendReports(_ candidate: QueueMessage, now: MailTime) {
        guard needsReportWork(candidate, now: now) else { return }
        var queuedAny = false
        reportLock.withLock {
            guard let message = try? store.load(candidate.id), !message.state.isHeld,
                needsReportWork(message, now: now)
            else { return }
            let (plans, outcomes) = bounces.plans(for: message, now: now)
            var covered: Set<Int> = []
            var warned = false
            var unsent: Set<Int> = []
            for plan in plans {
                do {
                    // A suppressed report counts as sent: its recipients are marked and nothing retries it.
                    if let reportID = try queueReport(plan, about: message, outcomes: outcomes, now: now) {
                        queuedAny = true
                        metrics?.reportQueued(kind: plan.kind == .doubleBounce ? "double_bounce" : plan.kind.rawValue)
                        reported(plan, about: message, reportID: reportID)
                    }
                    if plan.kind == .delay { warned = true } else { covered.formUnion(plan.recipients) }
                } catch {
                    // Nothing marked: the next scan tries again.
                    if plan.kind != .delay { unsent.formUnion(plan.recipients) }
                    logSink.log(LogRecord(.error, "queue.report_failed", [
                        ("queue_id", message.id.description), ("kind", plan.kind.rawValue), ("error", "\(error)"),
                    ]))
                }
            }
            // Failures no report was wanted for (NOTIFY=NEVER, a failed double bounce) are done with too:
            // the policy would decline them again at every scan.
            let unwanted = outcomes.indices.filter {
                if case .failed = outcomes[$0] { return !covered.contains($0) && !unsent.contains($0) }
                return false
            }
            if message.envelope.isBounce, !unwanted.isEmpty {
                logSink.log(LogRecord(.warning, "queue.report_dropped", [
                    ("queue_id", message.id.description),
                    ("reason", message.envelope.isDoubleBounce ? "undeliverable double bounce" : "undeliverable report to the postmaster"),
                ]))
            }
            covered.formUnion(unwanted)
            var current = message
            do {
                if !covered.isEmpty || warned {
                    current = try store.markReported(message.id, recipients: covered.sorted(), delayWarned: warned)
                }
                if current.location == .failed, Self.allFailuresReported(current) {
                    try store.delete(message.id)
                }
            } catch {
                logSink.log(LogRecord(.error, "queue.report_mark_failed", [("queue_id", message.id.description), ("error", "\(error)")]))
            }
        }
        if queuedAny { reportsQueued() }
    }

    /// Recipients delivered into local Maildirs at SMTP time, queued for their NOTIFY=SUCCESS report only:
    /// the `delivered` report, then they are recorded as delivered (never delivered again).
    private func recordLocalDeliveries(_ message: QueueMessage, indices: [Int], now: MailTime) {
        let text = "delivered to the recipient's mailbox"
        let attempt = OutboundAttempt(
            outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, OutboundOutcome.delivered(text)) }),
            destinationReachable: true)
        sendSuccessReports(message, attempt: attempt, now: now)
        do {
            try store.record(message.id, results: Dictionary(uniqueKeysWithValues: indices.map { ($0, QueueAttemptResult.delivered(text)) }))
        } catch {
            logSink.log(LogRecord(.error, "queue.record_failed", [("queue_id", message.id.description), ("error", "\(error)")]))
        }
    }

    /// NOTIFY=SUCCESS (RFC 3461 §6.2.2): a `delivered` report after local delivery, a `relayed` one after
    /// a hand-over to a next hop that did not offer DSN; a hop that offered it got NOTIFY and reports itself.
    private func sendSuccessReports(_ message: QueueMessage, attempt: OutboundAttempt, now: MailTime) {
        // Most mail asks for none: no report work (envelope conversion, policy) per message then.
        guard message.envelope.reversePath != nil,
            message.envelope.recipients.contains(where: { $0.notify?.uppercased().contains("SUCCESS") == true })
        else { return }
        var outcomes = [DSNOutcome](repeating: .pending, count: message.envelope.recipients.count)
        for (index, outcome) in attempt.outcomes where index < outcomes.count {
            guard case .delivered(let reply) = outcome,
                message.envelope.recipients[index].notify?.uppercased().contains("SUCCESS") == true
            else { continue }
            var text = reply
            if let host = attempt.remoteHost, text.hasPrefix(host + ": ") { text.removeFirst(host.count + 2) }
            let done = DSNAttempt(status: EnhancedStatusCode(2, 0, 0), remoteMTA: attempt.remoteHost, reply: text, date: now)
            outcomes[index] = attempt.remoteHost == nil
                ? .delivered(done) : .relayed(done, remoteSupportsDSN: attempt.remoteSupportsDSN)
        }
        let plans = bounces.policy.reports(for: bounces.dsnEnvelope(message.envelope), outcomes: outcomes, now: now)
        var queuedAny = false
        for plan in plans where plan.kind == .success {
            do {
                guard let reportID = try queueReport(plan, about: message, outcomes: outcomes, now: now) else { continue }
                queuedAny = true
                reported(plan, about: message, reportID: reportID)
            } catch {
                logSink.log(LogRecord(.error, "queue.report_failed", [
                    ("queue_id", message.id.description), ("kind", plan.kind.rawValue), ("error", "\(error)"),
                ]))
            }
        }
        if queuedAny { reportsQueued() }
    }

    /// Puts the report for `plan` before the embedder's ``checkReport`` hook, then queues it (with its text
    /// replaced when the hook asks). nil when the hook suppressed it: nothing is queued.
    private func queueReport(
        _ plan: DSNPlan, about message: QueueMessage, outcomes: [DSNOutcome], now: MailTime
    ) throws(QueueError) -> QueueID? {
        let review = ReportReview(hook: checkReport, logSink: logSink)
        let verdict = review.review(
            plan, envelope: bounces.dsnEnvelope(message.envelope), outcomes: outcomes, composer: bounces.composer,
            queueID: message.id.description
        ) { bounces.originalMessageID(message, store: store) }
        guard case .send(let explanation) = verdict else { return nil }
        return try bounces.enqueue(
            plan, about: message, outcomes: outcomes, store: store, now: now, random: random, explanation: explanation)
    }

    /// Logs a queued report and tells the embedder.
    private func reported(_ plan: DSNPlan, about message: QueueMessage, reportID: QueueID) {
        logSink.log(LogRecord(.info, "queue.report", [
            ("queue_id", message.id.description), ("report_id", reportID.description),
            ("kind", plan.kind.rawValue), ("to", plan.to.description),
        ]))
        reportQueued?(QueuedReport(
            kind: ReportReview.kind(plan.kind).rawValue, to: plan.to, aboutQueueID: message.id.rawValue, reportQueueID: reportID.rawValue,
            recipients: plan.recipients.filter { $0 < message.envelope.recipients.count }.map { message.envelope.recipients[$0].address }))
    }

    /// True when a report may be due or a finished message may be cleared away. Pure: no disk access.
    private func needsReportWork(_ message: QueueMessage, now: MailTime) -> Bool {
        if message.location == .failed { return true }
        if message.state.recipients.contains(where: { Self.isUnreportedFailure($0) }) { return true }
        return !bounces.plans(for: message, now: now).plans.isEmpty
    }

    private static func isUnreportedFailure(_ recipient: QueueRecipientState) -> Bool {
        if case .permanentFailure = recipient.status { return !recipient.isReported }
        return false
    }

    private static func allFailuresReported(_ message: QueueMessage) -> Bool {
        !message.state.recipients.contains(where: isUnreportedFailure)
    }

    /// New reports are due at once: rerun the scan in progress, or ask for one.
    private func reportsQueued() {
        let scanning: Bool = lock.withLock {
            if isScanning { rescan = .whole }
            return isScanning
        }
        if !scanning { requestScan?() }
    }
}
