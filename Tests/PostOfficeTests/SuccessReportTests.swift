// SuccessReportTests: NOTIFY=SUCCESS end to end (RFC 3461 §6.2.2). Relayed to a next hop without DSN
// (smtp-sink -N), the sender gets a `relayed` report whose Remote-MTA is the host we talked to; to a hop
// that offers DSN, NOTIFY goes on with the message and no report is made here. The embedder's reportQueued
// hook sees each report once. Also the delay_warning_time key.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
struct SuccessReportTests {
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<300 {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    /// Submits as alice with NOTIFY=SUCCESS,FAILURE for friend@elsewhere.test.
    private func submit(_ office: TestPostOffice, subject: String) throws {
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        defer { _ = try? client.command("QUIT") }
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        #expect(try client.command("MAIL FROM:<alice@example.test> ENVID=env-\(subject.count)").code == 250)
        #expect(try client.command("RCPT TO:<friend@elsewhere.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;friend@elsewhere.test").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("Subject: \(subject)\n\nhello\n"))
        #expect(try client.readReply().code == 250)
    }

    @Test func aHopWithoutDSNMeansARelayedReportNamingThatHost() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort(), options: ["-N"])
        let seen = LockedBox<[QueuedReport]>([])
        var hooks = PostOfficeHooks()
        hooks.reportQueued = { report in seen.update { $0.append(report) } }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: hooks) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
        }
        defer { office.stop() }
        try submit(office, subject: "success please")
        #expect(eventually { sink.dump.contains("success please") }, "sink got: \(sink.dump)")
        let report = try office.waitForMessage(for: "alice@example.test")
        #expect(report.contains("multipart/report"))
        #expect(report.contains("Action: relayed"))
        #expect(report.contains("Status: 2.0.0"))
        #expect(report.contains("Remote-MTA: dns; 127.0.0.2"))
        #expect(report.contains("Final-Recipient: rfc822; friend@elsewhere.test"))
        #expect(report.contains("Original-Envelope-Id: env-14"))
        #expect(eventually { seen.value.count == 1 })
        let queued = try #require(seen.value.first)
        #expect(queued.kind == "success")
        #expect(queued.to.description == "alice@example.test")
        #expect(queued.recipients.map(\.description) == ["friend@elsewhere.test"])
    }

    @Test func aHopWithDSNGetsNotifyAndNoReportIsMadeHere() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        let seen = LockedBox<[QueuedReport]>([])
        var hooks = PostOfficeHooks()
        hooks.reportQueued = { report in seen.update { $0.append(report) } }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: hooks) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
        }
        defer { office.stop() }
        try submit(office, subject: "the hop reports")
        #expect(eventually { sink.dump.contains("the hop reports") }, "sink got: \(sink.dump)")
        #expect(sink.dump.contains("NOTIFY=SUCCESS,FAILURE"), "sink got: \(sink.dump)")
        // Then a second message, so the first one's report (if any were wrongly made) would be queued by now.
        try submit(office, subject: "second one")
        #expect(eventually { sink.dump.contains("second one") })
        usleep(200_000)
        #expect(seen.value.isEmpty)
        #expect(office.messages(for: "alice@example.test").isEmpty)
    }
}

@Suite struct DelayWarningTimeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let value: String
        let seconds: Int??
        var testDescription: String { value }
    }

    static let cases: [Case] = [
        Case(value: "4h", seconds: .some(14400)), Case(value: "30m", seconds: .some(1800)), Case(value: "2", seconds: .some(7200)),
        Case(value: "1d", seconds: .some(86400)), Case(value: "0h", seconds: .some(nil)), Case(value: "0", seconds: .some(nil)),
        Case(value: "soon", seconds: nil), Case(value: "4x", seconds: nil), Case(value: "-1h", seconds: nil),
    ]

    @Test(arguments: cases)
    func delayWarningTimeTakesPostfixTimes(_ example: Case) throws {
        let base = PostOfficeConfiguration(dataDirectory: "/tmp/x")
        #expect(base.delayWarningSeconds == 14400)
        do {
            let parsed = try ConfigurationFile.parse("delay_warning_time = \(example.value)\n", fileName: "test.conf", base: base)
            #expect(example.seconds != nil, "accepted \(example.value)")
            #expect(parsed.delayWarningSeconds == example.seconds ?? 0)
        } catch {
            #expect(example.seconds == nil, "\(error)")
            #expect("\(error)".contains("is not a time such as 4h"))
        }
    }
}

/// NOTIFY=SUCCESS for mail delivered into a local Maildir at SMTP time: a `delivered` report, made by the
/// queue once the delivery is durable; the message is not delivered twice, and without NOTIFY nothing is queued.
@Suite struct LocalSuccessReportTests {
    @Test func localDeliveryWithNotifySuccessGivesADeliveredReport() throws {
        let seen = LockedBox<[QueuedReport]>([])
        var hooks = PostOfficeHooks()
        hooks.reportQueued = { report in seen.update { $0.append(report) } }
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"], hooks: hooks) {
            $0.deliversOutbound = true
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        #expect(try client.command("MAIL FROM:<alice@example.test> RET=HDRS").code == 250)
        #expect(try client.command("RCPT TO:<bob@example.test> NOTIFY=SUCCESS").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("Subject: did it arrive\n\nhello bob\n"))
        #expect(try client.readReply().code == 250)
        // And one without NOTIFY: no report for it.
        #expect(try client.sendMail(from: "alice@example.test", to: ["bob@example.test"], body: "Subject: quiet\n\nhi\n").code == 250)
        _ = try? client.command("QUIT")

        let report = try office.waitForMessage(for: "alice@example.test")
        #expect(report.contains("multipart/report"))
        #expect(report.contains("Action: delivered"))
        #expect(report.contains("Final-Recipient: rfc822; bob@example.test"))
        #expect(report.contains("text/rfc822-headers"))
        #expect(report.contains("Subject: did it arrive"))
        #expect(!report.contains("Remote-MTA"))
        let bob = try office.waitForMessage(for: "bob@example.test", count: 2)
        #expect(!bob.isEmpty)
        #expect(office.messages(for: "bob@example.test").count == 2)
        #expect(seen.value.map(\.kind) == ["success"])
        #expect(office.messages(for: "alice@example.test").count == 1)
    }
}
