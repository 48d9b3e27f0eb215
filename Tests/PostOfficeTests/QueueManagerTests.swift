// QueueManagerTests: the outbound scheduler on an injected clock and a scripted transport — retries after a
// deferral follow the RetrySchedule, deliveries leave the queue, failures are reported to the sender, the
// lifetime expires mail with 4.4.7 (5.4.7 in the report), a destination gets at most its concurrency limit, and a destination that stops answering
// is paused as a whole, then released at once when it answers.

import PostOfficeCore
@testable import PostOfficeQueue
import Testing
@testable import PostOffice

@Suite struct QueueManagerTests {
    /// A transport that records each attempt and answers from a script, or holds the answer for the test.
    final class ScriptedTransport: OutboundTransport, @unchecked Sendable {
        private let lock = Lock()
        var answer: @Sendable (QueueMessage, [Int], String) -> OutboundAttempt? = { _, indices, _ in
            OutboundAttempt(outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, .delivered("250 ok")) }), destinationReachable: true)
        }
        private(set) var attempts: [(id: QueueID, indices: [Int], domain: String)] = []
        private(set) var held: [(@Sendable (OutboundAttempt) -> Void, [Int])] = []

        func deliver(
            _ message: QueueMessage, recipients indices: [Int], domain: String, store: QueueStore,
            completion: @escaping @Sendable (OutboundAttempt) -> Void
        ) {
            lock.withLock { attempts.append((message.id, indices, domain)) }
            if let result = answer(message, indices, domain) {
                completion(result)
            } else {
                lock.withLock { held.append((completion, indices)) }
            }
        }

        func releaseHeld(_ outcome: OutboundOutcome, reachable: Bool = true) {
            let waiting = lock.withLock { () -> [(@Sendable (OutboundAttempt) -> Void, [Int])] in
                defer { held = [] }
                return held
            }
            for (completion, indices) in waiting {
                completion(OutboundAttempt(
                    outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, outcome) }), destinationReachable: reachable))
            }
        }

        var attemptCount: Int { lock.withLock { attempts.count } }
    }

    struct Harness {
        let clock = ManualClock()
        let store: QueueStore
        let transport = ScriptedTransport()
        let manager: QueueManager

        init(settings: QueueManager.Settings = QueueManager.Settings()) throws {
            let path = try LiveTestSupport.temporaryDirectory("queue-manager")
            store = try QueueStore(path: path, clock: clock, random: SeededRandomSource(seed: 7), logSink: DiscardingLogSink())
            manager = QueueManager(
                store: store, transport: transport, clock: clock, random: SeededRandomSource(seed: 9),
                logSink: DiscardingLogSink(), settings: settings)
        }

        @discardableResult
        func enqueue(to recipients: [String]) throws -> QueueID {
            let draft = try store.begin(QueueEnvelope(
                reversePath: MailAddress("alice@example.test"), arrival: clock.now(),
                recipients: recipients.map { QueueRecipient(MailAddress($0)!) }))
            try draft.append(Array("Subject: hi\r\n\r\nhello\r\n".utf8))
            let id = try draft.commit()
            // As the runtime's commit signal does: the message goes to the next pass over new mail.
            if let committed = draft.committed { manager.committed(committed) }
            return id
        }
    }

    @Test func aDeliveredMessageLeavesTheQueue() throws {
        let harness = try Harness()
        try harness.enqueue(to: ["bob@elsewhere.test", "carol@other.test"])
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 2)  // one attempt per destination domain
        #expect(try harness.store.scan().isEmpty)
    }

    /// A kill between writing the "all delivered" state and removing the message (found by the crash
    /// harness's outbound variant) must not leave it in the queue for ever, nor send it again.
    @Test func aFinishedMessageLeftByACrashIsFiledAtTheNextScan() throws {
        let harness = try Harness()
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        var message = try #require(try harness.store.scan().first { $0.id == id })
        message.state.recipients[0].status = .delivered("250 ok")
        try harness.store.appendState(message.state, to: id)
        #expect(try harness.store.scan().contains { $0.id == id && $0.state.isFinished })
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 0)
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func aDeferralIsRetriedOnTheScheduleNotBefore() throws {
        let harness = try Harness()
        harness.transport.answer = { _, indices, _ in
            OutboundAttempt(outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, .deferred(EnhancedStatusCode(4, 2, 0), "451 try later")) }), destinationReachable: true)
        }
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 1)
        let waiting = try harness.store.load(id)
        let next = try #require(waiting.state.recipients.first?.nextAttempt)
        // Minimal backoff 5 minutes, jitter only shortens and never below the minimum.
        #expect(next.seconds - harness.clock.now().seconds == 300)
        harness.clock.advance(seconds: 299)
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 1)
        harness.clock.advance(seconds: 1)
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 2)
        #expect(try harness.store.load(id).state.recipients.first?.attempts == 2)
    }

    @Test func aPermanentFailureIsReportedAndLeavesTheQueue() throws {
        let harness = try Harness()
        harness.transport.answer = { _, indices, _ in
            OutboundAttempt(outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, .failed(EnhancedStatusCode(5, 1, 1), "550 no such user")) }), destinationReachable: true)
        }
        let id = try harness.enqueue(to: ["nobody@elsewhere.test"])
        harness.manager.scan()
        #expect(throws: QueueError.self) { try harness.store.load(id) }
        // The report to alice@example.test went out in the same scan; it failed too (this transport fails
        // everything), so the postmaster's notice followed, failed, and was dropped.
        #expect(harness.transport.attempts.map(\.domain) == ["elsewhere.test", "example.test", "localhost"])
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func mailPastTheQueueLifetimeExpiresWith447() throws {
        let harness = try Harness()
        harness.transport.answer = { _, indices, _ in
            OutboundAttempt(outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, .deferred(EnhancedStatusCode(4, 4, 1), "connection refused")) }), destinationReachable: true)
        }
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        harness.clock.advance(seconds: 5 * 86400 + 1)
        harness.manager.scan()
        #expect(throws: QueueError.self) { try harness.store.load(id) }
        // What is left is the failure report, deferred like everything else here.
        let report = try #require(try harness.store.scan().first)
        #expect(report.envelope.isBounce)
        let text = String(decoding: try harness.store.openBody(report.id).readAll(), as: UTF8.self)
        #expect(text.contains("Action: failed\r\nStatus: 5.4.7\r\n"))
        #expect(text.contains("connection refused"))
    }

    @Test func aDestinationGetsAtMostItsConcurrency() throws {
        let harness = try Harness()
        harness.transport.answer = { _, _, _ in nil }  // hold every attempt open
        for _ in 0..<12 { try harness.enqueue(to: ["bob@busy.test"]) }
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 5)
        harness.transport.releaseHeld(.delivered("250 ok"))
        harness.manager.scan()
        // Five successes raised the limit, but only seven messages remain.
        #expect(harness.transport.attemptCount == 12)
    }

    /// Mail held back by the concurrency limit goes as soon as an attempt finishes, started by the finish
    /// itself: not at the next periodic queue run (found by `postoffice-bench relay`: a 30 s tail), and not
    /// through a scan either (a pass lists the whole queue; under load every freed slot waited for one).
    @Test func aFreedSlotStartsWaitingMailWithoutAScan() throws {
        let harness = try Harness()
        harness.transport.answer = { _, _, _ in nil }  // hold every attempt open
        for _ in 0..<7 { try harness.enqueue(to: ["bob@busy.test"]) }
        let manager = harness.manager
        let scans = Counter()
        manager.requestScan = { [weak manager] in  // the runtime submits this to the queue pool
            scans.increment()
            manager?.scan()
        }
        manager.requestNewMailScan = { [weak manager] in
            scans.increment()
            manager?.scanNewMail()
        }
        manager.scan()
        #expect(harness.transport.attemptCount == 5)
        harness.transport.releaseHeld(.delivered("250 ok"))
        #expect(harness.transport.attemptCount == 7)
        #expect(scans.value == 0)
        harness.transport.releaseHeld(.delivered("250 ok"))
        #expect(scans.value == 0)
        #expect(try harness.store.scan().isEmpty)
    }

    /// A commit asks for a pass over new mail only (`scanNewMail`): it starts the arrivals, and mail held back
    /// by the concurrency limit goes when a slot frees, without reading the whole queue.
    @Test func aPassOverNewMailStartsArrivalsAndMailWaitingForASlot() throws {
        let harness = try Harness()
        harness.transport.answer = { _, _, _ in nil }  // hold every attempt open
        let manager = harness.manager
        manager.requestNewMailScan = { [weak manager] in manager?.scanNewMail() }
        for _ in 0..<7 { try harness.enqueue(to: ["bob@busy.test"]) }
        manager.scanNewMail()
        #expect(harness.transport.attemptCount == 5)
        try harness.enqueue(to: ["carol@other.test"])
        manager.scanNewMail()
        #expect(harness.transport.attemptCount == 6)  // the arrival, to another destination
        harness.transport.releaseHeld(.delivered("250 ok"))
        #expect(harness.transport.attemptCount == 8)  // the two that waited for busy.test
        harness.transport.releaseHeld(.delivered("250 ok"))
        #expect(try harness.store.scan().isEmpty)
    }

    /// Mail an attempt deferred is not read again by passes over new mail; the full scan (every
    /// `queue_run_interval`) retries it when it is due.
    @Test func deferredMailIsLeftToTheFullScan() throws {
        let harness = try Harness()
        harness.transport.answer = { _, indices, _ in
            OutboundAttempt(outcomes: Dictionary(uniqueKeysWithValues: indices.map {
                ($0, .deferred(EnhancedStatusCode(4, 2, 0), "451 later"))
            }), destinationReachable: true)
        }
        try harness.enqueue(to: ["bob@slow.test"])
        harness.manager.scanNewMail()
        #expect(harness.transport.attemptCount == 1)
        harness.clock.advance(seconds: 3 * 3600)  // past any retry time, before the delay warning
        harness.manager.scanNewMail()
        #expect(harness.transport.attemptCount == 1)
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 2)
    }

    /// A commit hands its message to the next pass over new mail; a full scan that listed it first dealt with
    /// it, so the pass does not start it again from the committed copy (which still says "pending").
    @Test func aPassDoesNotRestartAnArrivalAFullScanDelivered() throws {
        let harness = try Harness()
        try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 1)
        #expect(try harness.store.scan().isEmpty)
        harness.manager.scanNewMail()
        #expect(harness.transport.attemptCount == 1)
    }

    /// Mail another process queued (`postoffice sendmail` while the server runs) is not handed over in memory:
    /// a pass over new mail never sees it, a pickup (the control socket's `pickup`) lists `messages/` and starts
    /// it, once. Mail this process started, and mail a pickup already saw and an attempt deferred, are left
    /// alone by later pickups (the full scan retries deferred mail).
    @Test func aPickupStartsMailAnotherProcessQueuedOnce() throws {
        let harness = try Harness()
        harness.transport.answer = { _, _, _ in nil }  // hold every attempt open
        func queuedElsewhere(to recipient: String) throws -> QueueID {
            let draft = try harness.store.begin(QueueEnvelope(
                reversePath: MailAddress("app@example.test"), arrival: harness.clock.now(),
                recipients: [QueueRecipient(MailAddress(recipient)!)]))
            try draft.append(Array("Subject: from sendmail\r\n\r\nhello\r\n".utf8))
            return try draft.commit()  // no manager.committed(_:): another process
        }
        let foreign = try queuedElsewhere(to: "bob@elsewhere.test")
        harness.manager.scanNewMail()
        #expect(harness.transport.attemptCount == 0)
        harness.manager.pickUpNewFiles()
        #expect(harness.transport.attempts.map(\.id) == [foreign])
        harness.manager.pickUpNewFiles()
        #expect(harness.transport.attemptCount == 1)
        // Mail of this process, started by its pass: a pickup reads it but its attempt holds the key.
        let own = try harness.enqueue(to: ["carol@other.test"])
        harness.manager.scanNewMail()
        #expect(harness.transport.attemptCount == 2)
        let second = try queuedElsewhere(to: "dave@third.test")
        harness.manager.pickUpNewFiles()
        #expect(harness.transport.attempts.map(\.id) == [foreign, own, second])

        harness.transport.releaseHeld(.deferred(EnhancedStatusCode(4, 2, 0), "451 later"))
        harness.clock.advance(seconds: 3 * 3600)  // every retry is due, before the delay warning
        harness.manager.pickUpNewFiles()
        #expect(harness.transport.attemptCount == 3)
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 6)
    }

    final class Counter: @unchecked Sendable {
        private let lock = Lock()
        private var count = 0
        func increment() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    @Test func anUnreachableDestinationIsPausedThenReleasedAtOnce() throws {
        var settings = QueueManager.Settings()
        settings.initialConcurrency = 1
        let harness = try Harness(settings: settings)
        harness.transport.answer = { _, _, _ in nil }
        try harness.enqueue(to: ["bob@down.test"])
        try harness.enqueue(to: ["carol@down.test"])
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 1)
        harness.transport.releaseHeld(.deferred(EnhancedStatusCode(4, 4, 1), "connection refused"), reachable: false)
        // The other message is due, but its destination is paused.
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 1)
        // After the destination's backoff one probe goes; when it succeeds, the rest is due at once although
        // the first message's own retry time (5 minutes) has passed too — what matters is nothing waits longer.
        harness.clock.advance(seconds: 300)
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 2)
        harness.transport.releaseHeld(.delivered("250 ok"))
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 3)
    }

    /// The backlog `in_flow_delay` goes by: mail due and waiting for a slot against the slots in use, reported
    /// at each change with the attempts it started; a paused destination's waiting mail is not counted.
    @Test func theBacklogIsMailWaitingForASlotAgainstTheSlotsInUse() throws {
        var settings = QueueManager.Settings()
        settings.initialConcurrency = 2
        let harness = try Harness(settings: settings)
        harness.transport.answer = { _, _, _ in nil }  // hold every attempt open
        let reports = LockedBox<[(backlog: InflowGate.Backlog, started: Int)]>([])
        harness.manager.backlogChanged = { backlog, started in reports.update { $0.append((backlog, started)) } }
        for _ in 0..<5 { try harness.enqueue(to: ["bob@busy.test"]) }
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 2)
        #expect(harness.manager.backlog == InflowGate.Backlog(waiting: 3, inFlight: 2))
        #expect(reports.value.last?.backlog == InflowGate.Backlog(waiting: 3, inFlight: 2))
        #expect(harness.manager.backlog.isCongested)
        #expect(reports.value.map(\.started).reduce(0, +) == 2)
        // Two successes raise the limit to 4: the three waiting start as slots free.
        harness.transport.releaseHeld(.delivered("250 ok"))
        #expect(harness.transport.attemptCount == 5)
        #expect(harness.manager.backlog == InflowGate.Backlog(waiting: 0, inFlight: 3))
        #expect(reports.value.last?.backlog == InflowGate.Backlog(waiting: 0, inFlight: 3))
        #expect(reports.value.map(\.started).reduce(0, +) == 5)

        // A destination that stops answering is paused: what waits for it is not ready to go, so not counted.
        for _ in 0..<3 { try harness.enqueue(to: ["carol@down.test"]) }
        harness.manager.scan()
        #expect(harness.manager.backlog == InflowGate.Backlog(waiting: 1, inFlight: 5))
        harness.transport.releaseHeld(.deferred(EnhancedStatusCode(4, 4, 1), "connection refused"), reachable: false)
        #expect(harness.manager.backlog == InflowGate.Backlog(waiting: 0, inFlight: 0))
        #expect(reports.value.last?.backlog == InflowGate.Backlog(waiting: 0, inFlight: 0))
    }

    @Test func heldMessagesAreNotAttempted() throws {
        let harness = try Harness()
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        _ = try harness.store.hold(id)
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 0)
        _ = try harness.store.release(id)
        harness.manager.scan()
        #expect(harness.transport.attemptCount == 1)
    }

    /// A flush (ETRN, `queue flush`) makes waiting recipients due now and leaves final results alone: a
    /// recipient that failed for good is not tried again.
    @Test func aFlushRetriesWaitingRecipientsOnly() throws {
        let harness = try Harness()
        harness.transport.answer = { _, indices, domain in
            let outcome: OutboundOutcome = domain == "gone.test"
                ? .failed(EnhancedStatusCode(5, 1, 1), "550 no such user") : .deferred(EnhancedStatusCode(4, 2, 0), "451 later")
            return OutboundAttempt(outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, outcome) }), destinationReachable: true)
        }
        try harness.enqueue(to: ["bob@gone.test", "carol@slow.test"])
        harness.manager.scan()
        // (The failure report to alice@example.test goes out too; only the original's domains count here.)
        func tried() -> [String] { harness.transport.attempts.map(\.domain).filter { $0 != "example.test" }.sorted() }
        #expect(tried() == ["gone.test", "slow.test"])
        harness.manager.flush()
        harness.manager.scan()
        #expect(tried() == ["gone.test", "slow.test", "slow.test"])
    }
}
