// ETRNTests: ETRN (RFC 1985) against the running server. A backup MX holds mail for backup.test while the
// primary (smtp-sink) is down; the retry is far in the future on the injected clock, so only ETRN from the
// primary (in relay_networks) can make it go when the primary is back. Also: who may use it, and EHLO.

import Foundation
import PostOffice
import PostOfficeQueue
import PostOfficeTesting
import Testing

@Suite(.enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
struct ETRNTests {
    private func queue(_ office: TestPostOffice) throws -> [QueueMessage] {
        try QueueStore(
            path: office.server.configuration.queueDirectory, clock: SystemClock(), random: SystemRandomSource(),
            logSink: DiscardingLogSink()
        ).scan()
    }

    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<300 {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    @Test func etrnFromThePrimaryDeliversItsWaitingMailAtOnce() throws {
        let port = try SMTPSinkProcess.freePort()
        let clock = ManualClock()
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], clock: clock) { configuration in
            configuration.deliversOutbound = true
            configuration.relayDomains = ["backup.test"]
            configuration.relayNetworks = [NetworkRange("127.0.0.0/8")!]
            configuration.relayHost = SocketAddress(host: "127.0.0.2", port: port)
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        let hello = try client.command("EHLO primary.backup.test")
        #expect(hello.lines.contains("ETRN"), "\(hello)")
        let sent = try client.sendMail(from: "someone@example.net", to: ["user@backup.test"], body: "Subject: held for the primary\n\nhello\n")
        #expect(sent.code == 250, "\(sent)")
        // The primary is down: the attempt is deferred, and its retry lies minutes ahead on a clock that stands still.
        #expect(try eventually {
            try queue(office).first?.state.recipients.first.map { $0.attempts >= 1 && !$0.status.isFinal } ?? false
        })
        let waiting = try #require(try queue(office).first?.state.recipients.first)
        #expect(waiting.nextAttempt.seconds > clock.now().seconds + 60)

        let sink = try SMTPSinkProcess(port: port)
        #expect(!sink.dump.contains("held for the primary"))
        let reply = try client.command("ETRN backup.test")
        #expect(reply.code == 250, "\(reply)")
        #expect(reply.lines == ["2.0.0 Queuing started for node backup.test"])
        #expect(eventually { sink.dump.contains("held for the primary") }, "sink got: \(sink.dump)")
        #expect(try eventually { try queue(office).isEmpty })
        _ = try? client.command("QUIT")
    }

    @Test func etrnIsForRelayDomainsAndTrustedOrLoggedInClients() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayDomains = ["backup.test"]
            configuration.offersAuthenticationOnSMTP = true
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO stranger.test")
        let refused = try client.command("ETRN backup.test")
        #expect(refused.code == 459)
        #expect(refused.enhancedCode == "4.7.1")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        #expect(try client.command("ETRN backup.test").code == 250)
        let other = try client.command("ETRN example.org")
        #expect(other.code == 459)
        #expect(other.lines.first?.contains("relay_domains") == true)
        #expect(try client.command("ETRN #queue").code == 459)
        #expect(try client.command("ETRN").code == 501)
        _ = try? client.command("QUIT")

        // Without outbound delivery there is no queue to run: not advertised, not implemented.
        let plain = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.relayDomains = ["backup.test"] }
        defer { plain.stop() }
        let second = try SMTPTestClient(connectingTo: plain.smtpAddress)
        _ = try second.readReply()
        #expect(try !second.command("EHLO primary.backup.test").lines.contains("ETRN"))
        #expect(try second.command("ETRN backup.test").code == 502)
        _ = try? second.command("QUIT")
    }
}
