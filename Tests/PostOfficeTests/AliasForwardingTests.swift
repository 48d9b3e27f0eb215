// AliasForwardingTests: an alias whose targets are in other domains, with deliver_outbound on: the local
// targets get their copy in the Maildir and the remote ones are forwarded through the queue to the next hop
// (smtp-sink as the relay host), for mail from anyone on port 25. With deliver_outbound off they are skipped.

import Foundation
import PostOffice
import PostOfficeQueue
import PostOfficeTesting
import Testing

@Suite(.enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
struct AliasForwardingTests {
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<300 {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    private func send(_ office: TestPostOffice, to recipient: String, subject: String) throws -> SMTPTestReply {
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        defer { _ = try? client.command("QUIT") }
        _ = try client.readReply()
        _ = try client.command("EHLO sender.example.net")
        return try client.sendMail(from: "someone@example.net", to: [recipient], body: "Subject: \(subject)\n\nhello\n")
    }

    @Test func remoteAliasTargetsAreForwardedThroughTheQueue() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
            try? """
                team@example.test     alice@example.test, friend@elsewhere.test
                away@example.test     alice@away.example

                """.write(toFile: configuration.aliasesFile, atomically: true, encoding: .utf8)
        }
        defer { office.stop() }
        let reply = try send(office, to: "team@example.test", subject: "to the team")
        #expect(reply.code == 250, "\(reply)")
        #expect(try office.waitForMessage(for: "alice@example.test").contains("Subject: to the team"))
        #expect(eventually { sink.dump.contains("to the team") }, "sink got: \(sink.dump)")
        #expect(sink.dump.contains("friend@elsewhere.test"))

        // An alias with only a remote target is accepted too, and forwarded.
        let away = try send(office, to: "away@example.test", subject: "while away")
        #expect(away.code == 250, "\(away)")
        #expect(eventually { sink.dump.contains("while away") }, "sink got: \(sink.dump)")
        #expect(sink.dump.contains("alice@away.example"))
    }

    @Test func withoutOutboundDeliveryRemoteTargetsAreSkipped() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            try? "away@example.test     alice@away.example\n".write(toFile: configuration.aliasesFile, atomically: true, encoding: .utf8)
        }
        defer { office.stop() }
        // Nothing here could receive it: refused at RCPT, as before.
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO sender.example.net")
        _ = try client.command("MAIL FROM:<someone@example.net>")
        #expect(try client.command("RCPT TO:<away@example.test>").code == 550)
        _ = try? client.command("QUIT")
    }
}
