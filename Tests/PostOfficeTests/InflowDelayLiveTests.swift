// InflowDelayLiveTests: `in_flow_delay` on a running server relaying to Postfix's smtp-sink on 127.0.0.2.
// With the sink stopped (SIGSTOP) the first attempts hang in flight and later mail waits for a slot; once that
// backlog is over the threshold a client's first queued recipient waits at the gate (seen there, no reply yet)
// while local mail still goes, and proceeds when the sink goes on and the backlog drains — or, with the sink
// still stopped, when in_flow_delay expires. Ordering and the log's outcome are asserted, never durations.

import Foundation
import PostOfficeCore
import PostOfficeTesting
import Testing
@testable import PostOffice
#if canImport(Glibc)
import Glibc
#endif

@Suite(.enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
struct InflowDelayLiveTests {
    private func relay(to sink: SMTPSinkProcess, delayMilliseconds: Int, log: any LogSink) throws -> TestPostOffice {
        try TestPostOffice(users: ["alice@example.test": "pw"], logSink: log) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
            configuration.relayNetworks = [NetworkRange("127.0.0.0/8")!]
            configuration.inFlowDelayMilliseconds = delayMilliseconds
        }
    }

    /// Waits up to 15 s for `condition`.
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<300 {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    private func client(_ office: TestPostOffice) throws -> SMTPTestClient {
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        return client
    }

    /// With the sink stopped, sends mail until more waits for a slot than half the attempts in flight (5, the
    /// initial per-destination concurrency), as the gate sees it.
    private func fillBacklog(_ office: TestPostOffice, _ gate: InflowGate) throws {
        let client = try client(office)
        var sent = 0
        while !gate.currentBacklog.isCongested && sent < 20 {
            let reply = try client.sendMail(
                from: "alice@example.test", to: ["friend@elsewhere.test"], body: "Subject: backlog \(sent)\n\nwaits\n")
            #expect(reply.code == 250, "\(reply)")
            sent += 1
            // The queue manager counts each commit on its own threads: let it catch up before the next.
            _ = eventually { gate.currentBacklog.waiting + gate.currentBacklog.inFlight >= sent }
        }
        #expect(gate.currentBacklog.isCongested, "backlog \(gate.currentBacklog) after \(sent) messages")
    }

    private func inflowLines(_ log: CollectingLogSink) -> [LogRecord] {
        log.records.filter { $0.event == "smtp.inflow_delay" }
    }

    @Test func aQueuedRecipientWaitsWhileTheBacklogIsHighAndGoesWhenItDrains() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        sink.pause()
        let log = CollectingLogSink()
        // The longest delay (10 s): the wait must end because the backlog drains, not because it expired.
        let office = try relay(to: sink, delayMilliseconds: 10_000, log: log)
        defer { office.stop() }
        defer { sink.resume() }  // before the stop: attempts in flight to a stopped sink would hold it up
        let gate = try #require(office.server.context.inflowGate)
        try fillBacklog(office, gate)

        let waiting = try client(office)
        #expect(try waiting.command("MAIL FROM:<alice@example.test>").code == 250)
        try waiting.connection.sendLine("RCPT TO:<late@elsewhere.test>")
        #expect(eventually { gate.waitingCount == 1 }, "the recipient did not wait at the gate")

        // Mail for a local mailbox adds nothing to the queue: it never waits.
        let local = try client(office)
        #expect(try local.sendMail(from: "bob@example.net", to: ["alice@example.test"], body: "Subject: local\n\nhere\n").code == 250)
        #expect(gate.waitingCount == 1)
        #expect(inflowLines(log).isEmpty)

        // The sink goes on, attempts finish and start the mail waiting for slots: the held reply follows.
        sink.resume()
        let reply = try waiting.readReply()
        #expect(reply.code == 250, "\(reply)")
        #expect(try waiting.command("DATA").code == 354)
        try waiting.connection.send(SMTPTestClient.stuffed("Subject: after the wait\n\nlate\n"))
        #expect(try waiting.readReply().code == 250)
        let lines = inflowLines(log)
        #expect(lines.count == 1)
        #expect(lines.first?["outcome"] == "released")
        #expect(lines.first?.sessionID != nil)
        #expect(eventually { sink.dump.contains("Subject: after the wait") }, "sink got: \(sink.dump)")
    }

    @Test func aQueuedRecipientGoesOnWhenTheDelayExpires() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        sink.pause()
        let log = CollectingLogSink()
        let office = try relay(to: sink, delayMilliseconds: 200, log: log)
        defer { office.stop() }
        defer { sink.resume() }
        let gate = try #require(office.server.context.inflowGate)
        try fillBacklog(office, gate)

        // The sink stays stopped: nothing drains, and the reply comes once in_flow_delay has passed.
        let waiting = try client(office)
        #expect(try waiting.command("MAIL FROM:<alice@example.test>").code == 250)
        #expect(try waiting.command("RCPT TO:<late@elsewhere.test>").code == 250)
        // Only the first queued recipient of a transaction waits.
        #expect(try waiting.command("RCPT TO:<later@elsewhere.test>").code == 250)
        #expect(try waiting.command("DATA").code == 354)
        try waiting.connection.send(SMTPTestClient.stuffed("Subject: expired wait\n\nlate\n"))
        #expect(try waiting.readReply().code == 250)
        let lines = inflowLines(log)
        #expect(lines.count == 1)
        #expect(lines.first?["outcome"] == "expired")
        #expect(gate.currentBacklog.isCongested)
        #expect(gate.waitingCount == 0)
    }

    @Test func zeroTurnsTheGateOff() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        sink.pause()
        let log = CollectingLogSink()
        let office = try relay(to: sink, delayMilliseconds: 0, log: log)
        defer { office.stop() }
        defer { sink.resume() }
        let gate = try #require(office.server.context.inflowGate)
        try fillBacklog(office, gate)
        let client = try client(office)
        #expect(try client.sendMail(from: "alice@example.test", to: ["late@elsewhere.test"], body: "Subject: no gate\n\nx\n").code == 250)
        #expect(inflowLines(log).isEmpty)
    }
}
