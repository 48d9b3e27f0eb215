// ReportHookTests: the embedder's checkReport hook (issue 15, "a hook sees each report before it is
// queued"). On the queue manager with a scripted transport: rewritten text (Python's email package reads the
// report back: the new text, an intact message/delivery-status part), a suppressed report (nothing queued,
// the original leaves the queue as reported, logged with the reason), and a hook that throws (sent unchanged,
// logged). End to end: the hook runs off the event loops, and NOTIFY=SUCCESS without deliver_outbound.

import Foundation
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing
@testable import PostOffice

@Suite struct ReportHookTests {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "the report database is down" }
    }

    /// A message from alice@example.org (local) to bob@elsewhere.test, whose server answers 550.
    private func failingHarness(_ hook: @escaping @Sendable (OutgoingReport) throws -> ReportDecision) throws -> (BounceTests.Harness, QueueID) {
        let harness = try BounceTests.Harness()
        harness.failRemote(EnhancedStatusCode(5, 1, 1), "550 5.1.1 <bob@elsewhere.test>: user unknown")
        harness.manager.checkReport = hook
        let id: QueueID
        do {
            let draft = try harness.store.begin(QueueEnvelope(
                reversePath: MailAddress("alice@example.org"), arrival: harness.clock.now(),
                recipients: [QueueRecipient(MailAddress("bob@elsewhere.test")!)], envelopeID: "ENV1"))
            try draft.append(Array("From: alice@example.org\r\nMessage-ID: <lunch.1@example.org>\r\nSubject: Lunch\r\n\r\nNoon?\r\n".utf8))
            id = try draft.commit()
        }
        return (harness, id)
    }

    @Test func aHookThatRewritesTheTextChangesOnlyTheHumanReadablePart() throws {
        let seen = LockedBox<[OutgoingReport]>([])
        let (harness, id) = try failingHarness { report in
            seen.update { $0.append(report) }
            return .send(text: "Hello Alice,\nyour note to Bob did not arrive: \(report.recipients[0].status).\n\n-- Example IT")
        }
        harness.manager.scan()
        let reports = harness.reports(to: "alice@example.org")
        #expect(reports.count == 1)
        #expect(throws: QueueError.self) { try harness.store.load(id) }

        let report = try #require(seen.value.first)
        #expect(seen.value.count == 1)
        #expect(report.kind == .failure)
        #expect(report.to.description == "alice@example.org")
        #expect(report.sender?.description == "alice@example.org")
        #expect(report.originalMessageID == "<lunch.1@example.org>")
        #expect(report.queueID == id.description)
        #expect(report.recipients.map(\.address.description) == ["bob@elsewhere.test"])
        #expect(report.recipients.first?.action == "failed")
        #expect(report.recipients.first?.status == "5.1.1")
        #expect(report.recipients.first?.remoteMTA == "mx.elsewhere.test")
        #expect(report.text.hasPrefix("This is the mail system at mx.example.org.\n"))
        #expect(report.text.contains("<bob@elsewhere.test>: the mailbox does not exist (5.1.1)."))

        let text = try #require(reports.first).text
        #expect(text.contains("Hello Alice,\r\nyour note to Bob did not arrive: 5.1.1.\r\n\r\n-- Example IT\r\n"))
        #expect(!text.contains("This is the mail system"))
        guard ExternalTool.path("python3") != nil else { return }
        let parsed = try HookParsedReport.parse(try #require(reports.first).bytes)
        #expect(parsed.contentType == "multipart/report")
        #expect(parsed.parts == ["text/plain", "message/delivery-status", "message/rfc822"])
        #expect(parsed.defects.isEmpty)
        #expect(parsed.text == "Hello Alice,\nyour note to Bob did not arrive: 5.1.1.\n\n-- Example IT\n")
        #expect(parsed.groups.count == 2)
        #expect(parsed.groups.first?["Reporting-MTA"] == "dns; mx.example.org")
        #expect(parsed.groups.first?["Original-Envelope-Id"] == "ENV1")
        #expect(parsed.groups.last?["Final-Recipient"] == "rfc822; bob@elsewhere.test")
        #expect(parsed.groups.last?["Action"] == "failed")
        #expect(parsed.groups.last?["Status"] == "5.1.1")
        #expect(parsed.groups.last?["Diagnostic-Code"] == "smtp; 550 5.1.1 <bob@elsewhere.test>: user unknown")
        #expect(parsed.innerSubject == "Lunch")
    }

    @Test func aSuppressedReportIsNotQueuedAndTheOriginalCountsAsReported() throws {
        let calls = LockedBox(0)
        let (harness, id) = try failingHarness { _ in
            calls.update { $0 += 1 }
            return .suppress(reason: "the sender opted out of bounces")
        }
        harness.manager.scan()
        harness.manager.scan()
        #expect(harness.reports(to: "alice@example.org").isEmpty)
        #expect(harness.local.delivered.isEmpty)
        // Nothing queued, and the original is gone (reported, then removed from failed/): nothing retries.
        #expect(throws: QueueError.self) { try harness.store.load(id) }
        #expect(try harness.store.scan().isEmpty)
        #expect(calls.value == 1)
        let suppressed = harness.logs.events("report.suppressed")
        #expect(suppressed.count == 1)
        #expect(suppressed.first?.fields.contains { $0 == ("reason", "the sender opted out of bounces") } == true)
        #expect(suppressed.first?.fields.contains { $0 == ("kind", "failure") } == true)
        #expect(harness.logs.events("queue.report").isEmpty)
    }

    @Test func aHookThatThrowsMeansTheReportGoesUnchanged() throws {
        let (harness, _) = try failingHarness { _ in throw Refused() }
        harness.manager.scan()
        let reports = harness.reports(to: "alice@example.org")
        #expect(reports.count == 1)
        #expect(reports.first?.text.contains("This is the mail system at mx.example.org.") == true)
        #expect(reports.first?.text.contains("Action: failed\r\nStatus: 5.1.1\r\n") == true)
        let failures = harness.logs.events("report.hook_failed")
        #expect(failures.count == 1)
        #expect(failures.first?.fields.contains { $0 == ("error", "the report database is down") } == true)
        #expect(try harness.store.scan().isEmpty)
    }

    @Test func aSuppressedDelayWarningIsNotSentAgain() throws {
        let harness = try BounceTests.Harness()
        harness.deferRemote()
        let calls = LockedBox<[OutgoingReport.Kind]>([])
        harness.manager.checkReport = { report in
            calls.update { $0.append(report.kind) }
            return .suppress(reason: "no delay warnings here")
        }
        let id = try harness.enqueue(to: ["bob@elsewhere.test"])
        harness.manager.scan()
        harness.clock.advance(seconds: 5 * 3600)
        harness.manager.scan()
        harness.clock.advance(seconds: 3600)
        harness.manager.scan()
        #expect(calls.value == [.delay])
        #expect(harness.reports(to: "alice@example.org").isEmpty)
        #expect(try harness.store.load(id).state.isDelayWarned)
    }
}

/// A report read by Python's `email` package, with its human-readable text.
struct HookParsedReport: Decodable {
    var contentType: String
    var parts: [String]
    var text: String
    var groups: [[String: String]]
    var defects: [String]
    var innerSubject: String?

    static let script = """
        import email, json, sys
        msg = email.message_from_bytes(sys.stdin.buffer.read())
        def unfold(v): return str(v).replace('\\r\\n', '').replace('\\n', '')
        parts = msg.get_payload()
        out = {
          'contentType': msg.get_content_type(),
          'parts': [p.get_content_type() for p in parts],
          'text': parts[0].get_payload(decode=True).decode(parts[0].get_content_charset() or 'us-ascii').replace('\\r\\n', '\\n'),
          'groups': [{k: unfold(v) for k, v in g.items()} for g in parts[1].get_payload()],
          'defects': [type(d).__name__ for p in msg.walk() for d in p.defects],
        }
        if len(parts) > 2 and parts[2].get_content_type() == 'message/rfc822':
            out['innerSubject'] = parts[2].get_payload(0)['Subject']
        json.dump(out, sys.stdout)
        """

    static func parse(_ bytes: [UInt8]) throws -> HookParsedReport {
        let result = try ExternalTool.run("python3", ["-c", script], input: Data(bytes), timeoutSeconds: 30)
        guard result.status == 0 else { throw ParsedReport.ParseFailure(message: result.errorOutput) }
        return try JSONDecoder().decode(HookParsedReport.self, from: Data(result.output.utf8))
    }
}

/// The hook in a running server: reports made after an outbound attempt (whose answer arrives on an event
/// loop) reach the hook on the storage pool.
@Suite(.enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
struct ReportHookRuntimeTests {
    @Test func theHookRunsOffTheEventLoops() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort(), options: ["-N"])
        let loops = LockedBox<[EventLoop]>([])
        let calls = LockedBox<[Bool]>([])  // true when called on an event loop
        var hooks = PostOfficeHooks()
        hooks.checkReport = { report in
            calls.update { $0.append(loops.value.contains { $0.isCurrent }) }
            return .send(text: "Delivered onward, as you asked.\n")
        }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: hooks) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
        }
        defer { office.stop() }
        loops.update { $0 = office.server.context.io.eventLoops }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        defer { _ = try? client.command("QUIT") }
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        #expect(try client.command("MAIL FROM:<alice@example.test>").code == 250)
        #expect(try client.command("RCPT TO:<friend@elsewhere.test> NOTIFY=SUCCESS").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("Subject: onward\n\nhello\n"))
        #expect(try client.readReply().code == 250)
        let report = try office.waitForMessage(for: "alice@example.test")
        #expect(report.contains("Delivered onward, as you asked."))
        #expect(report.contains("Action: relayed"))
        #expect(calls.value == [false])
    }
}

/// NOTIFY=SUCCESS on a server without the outbound queue (deliver_outbound = no): the `delivered` report
/// goes straight into a local sender's Maildir; for a remote sender it cannot be sent, and the log says so.
@Suite struct LocalReportWithoutQueueTests {
    @Test func aLocalSenderGetsTheDeliveredReportInTheirMaildir() throws {
        let seen = LockedBox<[QueuedReport]>([])
        let checked = LockedBox<[OutgoingReport]>([])
        var hooks = PostOfficeHooks()
        hooks.reportQueued = { report in seen.update { $0.append(report) } }
        hooks.checkReport = { report in
            checked.update { $0.append(report) }
            return .send
        }
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"], hooks: hooks)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        defer { _ = try? client.command("QUIT") }
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        #expect(try client.command("MAIL FROM:<alice@example.test> ENVID=lunch-7").code == 250)
        #expect(try client.command("RCPT TO:<bob@example.test> NOTIFY=SUCCESS ORCPT=rfc822;bob@example.test").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("Message-ID: <lunch.7@example.test>\nSubject: did it arrive\n\nhello bob\n"))
        #expect(try client.readReply().code == 250)
        // And one without NOTIFY: no report for it.
        #expect(try client.sendMail(from: "alice@example.test", to: ["bob@example.test"], body: "Subject: quiet\n\nhi\n").code == 250)

        let report = try office.waitForMessage(for: "alice@example.test")
        #expect(report.contains("Return-Path: <>"))
        #expect(report.contains("Subject: Successful Mail Delivery Report"))
        #expect(report.contains("multipart/report"))
        #expect(report.contains("Original-Envelope-Id: lunch-7"))
        #expect(report.contains("Original-Recipient: rfc822;bob@example.test"))
        #expect(report.contains("Final-Recipient: rfc822; bob@example.test"))
        #expect(report.contains("Action: delivered"))
        #expect(report.contains("Status: 2.0.0"))
        #expect(report.contains("text/rfc822-headers"))
        #expect(report.contains("Subject: did it arrive"))
        #expect(!report.contains("hello bob"))
        _ = try office.waitForMessage(for: "bob@example.test", count: 2)
        #expect(office.messages(for: "bob@example.test").count == 2)
        #expect(office.messages(for: "alice@example.test").count == 1)
        #expect(seen.value.map(\.kind) == ["success"])
        #expect(seen.value.first?.reportQueueID == "")
        #expect(checked.value.first?.originalMessageID == "<lunch.7@example.test>")
        #expect(checked.value.first?.recipients.map(\.action) == ["delivered"])
    }

    @Test func aRemoteSenderCannotGetOneAndTheLogSaysWhy() throws {
        let logs = CollectingLogSink()
        let office = try TestPostOffice(users: ["bob@example.test": "pw"], logSink: logs)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        defer { _ = try? client.command("QUIT") }
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.command("MAIL FROM:<carol@remote.test>").code == 250)
        #expect(try client.command("RCPT TO:<bob@example.test> NOTIFY=SUCCESS").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("Subject: hi bob\n\nhello\n"))
        #expect(try client.readReply().code == 250)
        _ = try office.waitForMessage(for: "bob@example.test")
        let unsendable = logs.records.filter { $0.event == "report.unsendable" }
        #expect(unsendable.count == 1)
        let reason = unsendable.first?.fields.first { $0.0 == "reason" }?.1 ?? ""
        #expect(reason.contains("deliver_outbound"), "\(reason)")
        #expect(unsendable.first?.fields.contains { $0 == ("to", "carol@remote.test") } == true)
    }
}

/// `maximal_queue_lifetime` and `bounce_queue_lifetime`: Postfix's names and time syntax (days by default).
@Suite struct QueueLifetimeKeyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let key: String
        let value: String
        let seconds: Int?
        var testDescription: String { "\(key) = \(value)" }
    }

    static let cases: [Case] = [
        Case(key: "bounce_queue_lifetime", value: "1", seconds: 86400), Case(key: "bounce_queue_lifetime", value: "12h", seconds: 43200),
        Case(key: "maximal_queue_lifetime", value: "3d", seconds: 259_200), Case(key: "maximal_queue_lifetime", value: "1w", seconds: 604_800),
        Case(key: "bounce_queue_lifetime", value: "0", seconds: nil), Case(key: "maximal_queue_lifetime", value: "101d", seconds: nil),
        Case(key: "maximal_queue_lifetime", value: "soon", seconds: nil),
    ]

    @Test(arguments: cases)
    func lifetimesTakePostfixTimes(_ example: Case) throws {
        let base = PostOfficeConfiguration(dataDirectory: "/tmp/x")
        #expect(base.maximalQueueLifetimeSeconds == 5 * 86400 && base.bounceQueueLifetimeSeconds == 2 * 86400)
        do {
            let parsed = try ConfigurationFile.parse("\(example.key) = \(example.value)\n", fileName: "test.conf", base: base)
            let seconds = try #require(example.seconds, "accepted \(example.value)")
            let value = example.key == "bounce_queue_lifetime" ? parsed.bounceQueueLifetimeSeconds : parsed.maximalQueueLifetimeSeconds
            #expect(value == seconds)
            #expect(ReloadReport(old: base, new: parsed).needsRestart == [example.key])
        } catch let error as ConfigurationError {
            #expect(example.seconds == nil, "\(error)")
        }
    }
}
