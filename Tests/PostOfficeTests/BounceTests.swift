// BounceTests: the queue manager's delivery status notifications on a manual clock with a scripted transport
// and a recording local delivery — a 5xx and an expiry each give one failure report (read back by Python's
// email package), recipients failing together share one, `<>` and NOTIFY=NEVER give none to the sender, a
// delay warning goes once, a failed report goes once to the postmaster and a failed notice is dropped.

import Foundation
import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue
import Testing
@testable import PostOffice

@Suite struct BounceTests {
    /// Local delivery that keeps every message in memory and fails the addresses it is told to.
    final class RecordingLocalDelivery: QueueLocalDelivery, @unchecked Sendable {
        struct Delivered {
            var from: MailAddress?
            var to: MailAddress
            var bytes: [UInt8]
            var text: String { String(decoding: bytes, as: UTF8.self) }
        }
        private let lock = Lock()
        private let domains: Set<String>
        private var stored: [Delivered] = []
        private var tries: [String] = []
        /// Addresses whose delivery fails permanently (no such mailbox).
        var failing: Set<String> = []

        init(domains: Set<String>) { self.domains = domains }

        func isLocal(domain: String) -> Bool { domains.contains(domain.lowercased()) }

        func deliver(_ message: QueueMessage, recipients indices: [Int], store: QueueStore) -> [Int: OutboundOutcome] {
            let bytes = (try? store.openBody(message.id).readAll()) ?? []
            var outcomes: [Int: OutboundOutcome] = [:]
            for index in indices {
                let to = message.envelope.recipients[index].address
                lock.withLock { tries.append(to.description) }
                if failing.contains(to.description) {
                    outcomes[index] = .failed(EnhancedStatusCode(5, 1, 1), "No such user here: \(to)")
                } else {
                    lock.withLock { stored.append(Delivered(from: message.envelope.reversePath, to: to, bytes: bytes)) }
                    outcomes[index] = .delivered("delivered")
                }
            }
            return outcomes
        }

        var delivered: [Delivered] { lock.withLock { stored } }
        var attempts: [String] { lock.withLock { tries } }
    }

    final class RecordingLogSink: LogSink, @unchecked Sendable {
        private let lock = Lock()
        private var stored: [LogRecord] = []
        func log(_ record: LogRecord) { lock.withLock { stored.append(record) } }
        func events(_ name: String) -> [LogRecord] { lock.withLock { stored.filter { $0.event == name } } }
    }

    struct Harness {
        let clock = ManualClock(MailTime(seconds: 1_700_000_000))
        let store: QueueStore
        let transport = QueueManagerTests.ScriptedTransport()
        let local = RecordingLocalDelivery(domains: ["example.org", "mx.example.org"])
        let logs = RecordingLogSink()
        let manager: QueueManager

        init() throws {
            let path = try LiveTestSupport.temporaryDirectory("bounce")
            store = try QueueStore(path: path, clock: clock, random: SeededRandomSource(seed: 3), logSink: logs)
            var settings = QueueManager.Settings()
            settings.hostname = "mx.example.org"
            manager = QueueManager(
                store: store, transport: transport, localDelivery: local, clock: clock, random: SeededRandomSource(seed: 5),
                logSink: logs, settings: settings)
        }

        @discardableResult
        func enqueue(
            from sender: String? = "alice@example.org", to recipients: [String], notify: String? = nil, ret: String? = nil
        ) throws -> QueueID {
            let draft = try store.begin(QueueEnvelope(
                reversePath: sender.flatMap { MailAddress($0) }, arrival: clock.now(),
                recipients: recipients.map { QueueRecipient(MailAddress($0)!, notify: notify) }, envelopeID: "ENV1",
                returnContent: ret))
            try draft.append(Array("From: alice@example.org\r\nSubject: Lunch\r\n\r\nShall we meet at noon?\r\n".utf8))
            return try draft.commit()
        }

        /// Every remote recipient fails with `reply` (as the SMTP transport words it: `host: reply`).
        func failRemote(_ code: EnhancedStatusCode, _ reply: String) {
            transport.answer = { _, indices, domain in
                OutboundAttempt(
                    outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, .failed(code, "mx.\(domain): \(reply)")) }),
                    destinationReachable: true, remoteHost: "mx.\(domain)")
            }
        }

        func deferRemote() {
            transport.answer = { _, indices, domain in
                OutboundAttempt(
                    outcomes: Dictionary(uniqueKeysWithValues: indices.map {
                        ($0, .deferred(EnhancedStatusCode(4, 4, 1), "mx.\(domain): 421 4.4.1 try again later"))
                    }),
                    destinationReachable: true, remoteHost: "mx.\(domain)")
            }
        }

        /// The reports delivered locally to `address`.
        func reports(to address: String) -> [RecordingLocalDelivery.Delivered] {
            local.delivered.filter { $0.to.description == address && $0.from == nil }
        }
    }

    @Test func aRemote5xxGivesTheSenderOneFailureReport() throws {
        let harness = try Harness()
        harness.failRemote(EnhancedStatusCode(5, 1, 1), "550 5.1.1 <bob@elsewhere.test>: user unknown")
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        let reports = harness.reports(to: "alice@example.org")
        #expect(reports.count == 1)
        // The original is done with: reported, then removed from failed/.
        #expect(throws: QueueError.self) { try harness.store.load(id) }
        #expect(try harness.store.scan().isEmpty)
        let report = try #require(reports.first)
        let text = report.text
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;"))
        #expect(text.contains("Subject: Undelivered Mail Returned to Sender"))
        #expect(text.contains("Final-Recipient: rfc822; bob@elsewhere.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
        #expect(text.contains("Remote-MTA: dns; mx.elsewhere.test\r\n"))
        #expect(text.contains("Diagnostic-Code: smtp; 550 5.1.1 <bob@elsewhere.test>: user unknown\r\n"))
        #expect(text.contains("Original-Envelope-Id: ENV1\r\n"))
        #expect(harness.logs.events("queue.report").count == 1)

        guard ExternalTool.path("python3") != nil else { return }
        let parsed = try ParsedReport.parse(report.bytes)
        #expect(parsed.contentType == "multipart/report")
        #expect(parsed.reportType == "delivery-status")
        #expect(parsed.parts == ["text/plain", "message/delivery-status", "message/rfc822"])
        #expect(parsed.defects.isEmpty)
        #expect(parsed.groups.count == 2)
        #expect(parsed.groups.first?["Reporting-MTA"] == "dns; mx.example.org")
        #expect(parsed.groups.last?["Action"] == "failed")
        #expect(parsed.groups.last?["Status"] == "5.1.1")
        #expect(parsed.groups.last?["Final-Recipient"] == "rfc822; bob@elsewhere.test")
        #expect(parsed.innerSubject == "Lunch")
    }

    @Test func recipientsThatFailTogetherShareOneReportQueuedForARemoteSender() throws {
        let harness = try Harness()
        harness.failRemote(EnhancedStatusCode(5, 1, 1), "550 5.1.1 user unknown")
        // The report to the remote sender is held open, so it stays in the queue to be looked at.
        let answer = harness.transport.answer
        harness.transport.answer = { message, indices, domain in
            message.envelope.isBounce ? nil : answer(message, indices, domain)
        }
        try harness.enqueue(from: "alice@sender.test", to: ["bob@elsewhere.test", "carol@elsewhere.test"])
        harness.manager.scan()
        let queued = try harness.store.scan()
        #expect(queued.count == 1)
        let report = try #require(queued.first)
        #expect(report.envelope.reversePath == nil)
        #expect(report.envelope.recipients.map(\.address.description) == ["alice@sender.test"])
        #expect(!report.envelope.isDoubleBounce)
        #expect(harness.transport.attempts.map(\.domain) == ["elsewhere.test", "sender.test"])
        let text = String(decoding: try harness.store.openBody(report.id).readAll(), as: UTF8.self)
        #expect(text.contains("Final-Recipient: rfc822; bob@elsewhere.test"))
        #expect(text.contains("Final-Recipient: rfc822; carol@elsewhere.test"))
        #expect(text.components(separatedBy: "Action: failed").count == 3)
    }

    @Test func expiryGivesOneReportWith547() throws {
        let harness = try Harness()
        harness.deferRemote()
        try harness.enqueue(to: ["bob@elsewhere.test"], notify: "FAILURE")  // no delay warning in between
        harness.manager.scan()
        harness.clock.advance(seconds: 5 * 86_400 + 1)
        harness.manager.scan()
        harness.manager.scan()
        let reports = harness.reports(to: "alice@example.org")
        #expect(reports.count == 1)
        let text = try #require(reports.first).text
        #expect(text.contains("Action: failed\r\nStatus: 5.4.7\r\n"))
        #expect(text.contains("try again later"))
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func mailThatExpiresBeforeAnyWarningGetsTheFailureReportOnly() throws {
        let harness = try Harness()
        harness.deferRemote()
        try harness.enqueue(to: ["bob@elsewhere.test"])  // NOTIFY absent: FAILURE,DELAY
        harness.manager.scan()
        harness.clock.advance(seconds: 5 * 86_400)
        harness.manager.scan()
        let reports = harness.reports(to: "alice@example.org")
        #expect(reports.count == 1)
        #expect(try #require(reports.first).text.contains("Subject: Undelivered Mail Returned to Sender"))
    }

    @Test func aMessageFromTheNullSenderIsNotReportedToItsSender() throws {
        let harness = try Harness()
        harness.failRemote(EnhancedStatusCode(5, 1, 1), "550 5.1.1 user unknown")
        try harness.enqueue(from: nil, to: ["bob@elsewhere.test"])
        harness.manager.scan()
        // Nothing goes back to `<>`; the postmaster hears of the undeliverable report, once.
        #expect(harness.transport.attemptCount == 1)
        #expect(harness.local.delivered.map(\.to.description) == ["postmaster@mx.example.org"])
        #expect(try #require(harness.local.delivered.first).text.contains("Subject: Postmaster Notice: Undeliverable Delivery Report"))
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func notifyNeverGivesNoReport() throws {
        let harness = try Harness()
        harness.failRemote(EnhancedStatusCode(5, 1, 1), "550 5.1.1 user unknown")
        let id = try harness.enqueue(to: ["bob@elsewhere.test"], notify: "NEVER")
        harness.manager.scan()
        #expect(harness.local.delivered.isEmpty)
        #expect(harness.transport.attemptCount == 1)
        #expect(throws: QueueError.self) { try harness.store.load(id) }
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func aDelayWarningGoesOnceAfterFourHours() throws {
        let harness = try Harness()
        harness.deferRemote()
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        harness.clock.advance(seconds: 4 * 3600 - 1)
        harness.manager.scan()
        #expect(harness.reports(to: "alice@example.org").isEmpty)
        harness.clock.advance(seconds: 1)
        harness.manager.scan()
        #expect(harness.reports(to: "alice@example.org").count == 1)
        #expect(try harness.store.load(id).state.isDelayWarned)
        for _ in 0..<4 {
            harness.clock.advance(seconds: 3600)
            harness.manager.scan()
        }
        let reports = harness.reports(to: "alice@example.org")
        #expect(reports.count == 1)
        let text = try #require(reports.first).text
        #expect(text.contains("Subject: Delayed Mail (still being retried)"))
        #expect(text.contains("Action: delayed\r\nStatus: 4.4.1\r\n"))
        #expect(text.contains("Will-Retry-Until: "))
        #expect(text.contains("Content-Type: text/rfc822-headers"))  // a delay report returns headers only
        // Still queued and still retried.
        #expect(try harness.store.load(id).location == .active)
    }

    @Test func anUndeliverableReportGoesToThePostmasterOnceThenIsDropped() throws {
        let harness = try Harness()
        harness.failRemote(EnhancedStatusCode(5, 1, 1), "550 5.1.1 user unknown")
        // The sender's mailbox is gone, and so is the postmaster's.
        harness.local.failing = ["alice@example.org", "postmaster@mx.example.org"]
        try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        harness.clock.advance(seconds: 3 * 86_400)
        harness.manager.scan()
        #expect(harness.local.attempts == ["alice@example.org", "postmaster@mx.example.org"])
        #expect(harness.local.delivered.isEmpty)
        #expect(harness.logs.events("queue.report_dropped").count == 1)
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func anUndeliverableReportReachesThePostmaster() throws {
        let harness = try Harness()
        harness.failRemote(EnhancedStatusCode(5, 1, 1), "550 5.1.1 user unknown")
        harness.local.failing = ["alice@example.org"]
        try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        harness.manager.scan()
        let notices = harness.reports(to: "postmaster@mx.example.org")
        #expect(notices.count == 1)
        let text = try #require(notices.first).text
        #expect(text.contains("Final-Recipient: rfc822; alice@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
        // The returned original is the failed report itself.
        #expect(text.contains("Subject: Undelivered Mail Returned to Sender"))
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func aFailureRecordedButNotYetReportedIsReportedAtTheNextScan() throws {
        let harness = try Harness()
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        // As after a crash between recording the failure and queuing the report: the message sits in failed/.
        let failed = try harness.store.record(id, results: [0: .permanentFailure(EnhancedStatusCode(5, 1, 1), "550 5.1.1 gone")])
        #expect(failed.location == .failed)
        harness.manager.scan()
        #expect(harness.reports(to: "alice@example.org").count == 1)
        #expect(harness.transport.attemptCount == 0)
        #expect(throws: QueueError.self) { try harness.store.load(id) }
    }

    @Test func aHeldFailedMessageIsNotReported() throws {
        let harness = try Harness()
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        try harness.store.record(id, results: [0: .permanentFailure(EnhancedStatusCode(5, 1, 1), "550 5.1.1 gone")])
        try harness.store.hold(id)
        harness.manager.scan()
        #expect(harness.local.delivered.isEmpty)
        #expect(try harness.store.load(id).location == .failed)
    }

    @Test func theRuntimeDeliversAReportIntoTheSendersMaildir() throws {
        let root = try LiveTestSupport.temporaryDirectory("bounce-agent")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let clock = ManualClock(MailTime(seconds: 1_700_000_000))
        let agent = LocalDeliveryAgent(
            configuration: DeliveryConfiguration(mailRoot: root + "/mail", hostname: "mx.example.org"),
            directory: DeliveryDirectory(localDomains: ["example.org"], users: ["alice@example.org"]),
            clock: clock, random: SeededRandomSource(seed: 1))
        let local = AgentQueueLocalDelivery(agent: agent)
        #expect(local.isLocal(domain: "example.org") && local.isLocal(domain: "MX.example.org"))
        #expect(!local.isLocal(domain: "elsewhere.test"))
        let store = try QueueStore(path: root + "/queue", clock: clock, random: SeededRandomSource(seed: 2), logSink: DiscardingLogSink())
        let transport = QueueManagerTests.ScriptedTransport()
        transport.answer = { _, indices, _ in
            OutboundAttempt(
                outcomes: Dictionary(uniqueKeysWithValues: indices.map { ($0, .failed(EnhancedStatusCode(5, 1, 1), "mx.elsewhere.test: 550 5.1.1 no")) }),
                destinationReachable: true)
        }
        var settings = QueueManager.Settings()
        settings.hostname = "mx.example.org"
        let manager = QueueManager(
            store: store, transport: transport, localDelivery: local, clock: clock, random: SeededRandomSource(seed: 3),
            logSink: DiscardingLogSink(), settings: settings)
        do {
            // In its own scope: a draft holds the message's lock until it is released, even after commit.
            let draft = try store.begin(QueueEnvelope(
                reversePath: MailAddress("alice@example.org"), arrival: clock.now(), recipients: [QueueRecipient(MailAddress("bob@elsewhere.test")!)]))
            try draft.append(Array("Subject: Lunch\r\n\r\nnoon?\r\n".utf8))
            try draft.commit()
        }
        manager.scan()
        #expect(transport.attemptCount == 1)
        #expect(try store.scan().isEmpty)
        let newDirectory = root + "/mail/example.org/alice/new"
        let files = try FileManager.default.contentsOfDirectory(atPath: newDirectory)
        #expect(files.count == 1)
        let name = try #require(files.first)
        let stored = try String(contentsOfFile: newDirectory + "/" + name, encoding: .utf8)
        #expect(stored.hasPrefix("Return-Path: <>\n"))
        #expect(stored.contains("Action: failed\nStatus: 5.1.1\n"))
        #expect(stored.contains("Subject: Lunch\n"))
    }
}

/// A report as Python's `email` package reads it: an independent MIME parser.
struct ParsedReport: Decodable {
    var contentType: String
    var reportType: String?
    var parts: [String]
    var groups: [[String: String]]
    var defects: [String]
    var innerSubject: String?

    static let script = """
        import email, json, sys
        msg = email.message_from_bytes(sys.stdin.buffer.read())
        def unfold(v): return str(v).replace('\\r\\n', '').replace('\\n', '')
        parts = msg.get_payload()
        out = {
          'contentType': msg.get_content_type(), 'reportType': msg.get_param('report-type'),
          'parts': [p.get_content_type() for p in parts],
          'groups': [{k: unfold(v) for k, v in g.items()} for g in parts[1].get_payload()],
          'defects': [type(d).__name__ for p in msg.walk() for d in p.defects],
        }
        if len(parts) > 2 and parts[2].get_content_type() == 'message/rfc822':
            out['innerSubject'] = parts[2].get_payload(0)['Subject']
        json.dump(out, sys.stdout)
        """

    static func parse(_ bytes: [UInt8]) throws -> ParsedReport {
        let result = try ExternalTool.run("python3", ["-c", script], input: Data(bytes), timeoutSeconds: 30)
        guard result.status == 0 else { throw ParseFailure(message: result.errorOutput) }
        return try JSONDecoder().decode(ParsedReport.self, from: Data(result.output.utf8))
    }

    struct ParseFailure: Error { var message: String }

}

@Suite struct RemoteMTATests {

    /// A host name in the reply text is the remote server's own words: Remote-MTA names only the host the
    /// transport recorded talking to, and without one there is none.
    struct RemoteCase: Sendable, CustomTestStringConvertible {
        let host: String?
        let reply: String
        let remoteMTA: String?
        let diagnostic: String
        var testDescription: String { reply }
    }

    @Test(arguments: [
        RemoteCase(host: nil, reply: "spoofed.example: 550 5.1.1 no", remoteMTA: nil, diagnostic: "spoofed.example: 550 5.1.1 no"),
        RemoteCase(host: "mx.real.example", reply: "mx.real.example: 550 5.1.1 no", remoteMTA: "mx.real.example", diagnostic: "550 5.1.1 no"),
        RemoteCase(host: "mx.real.example", reply: "mx.real.example[127.0.0.2]: 550 5.1.1 no", remoteMTA: "mx.real.example", diagnostic: "550 5.1.1 no"),
        RemoteCase(host: "mx.real.example", reply: "other.example: 550 5.1.1 no", remoteMTA: "mx.real.example", diagnostic: "other.example: 550 5.1.1 no"),
    ])
    func remoteMTAComesFromTheRecordedHostNotTheReply(_ example: RemoteCase) {
        let attempt = BounceGenerator.attempt(EnhancedStatusCode(5, 1, 1), example.reply, remoteHost: example.host, date: nil)
        #expect(attempt.remoteMTA == example.remoteMTA)
        #expect(attempt.reply == example.diagnostic)
    }
}
