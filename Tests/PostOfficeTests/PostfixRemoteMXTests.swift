// PostfixRemoteMXTests: Postfix as a real remote mail exchanger (issue 14). A private Postfix instance (its own
// config, queue and mail folders under a temporary folder, smtpd on 127.0.0.2) accepts mail for example.net
// into a Maildir; dnsmasq serves `MX example.net → mx.example.net → 127.0.0.2`; PostOffice, with no relay
// host, looks up the MX and delivers a submitted message there. Needs root (Postfix's master runs as root).

import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.enabled(if: PrivatePostfix.isUsable, "needs root, /usr/sbin/postfix and its postfix user (apt package postfix)"),
    .enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"))
struct PostfixRemoteMXTests {
    @Test func aMessageFoundByMXLandsInPostfixsMaildir() throws {
        let postfix = try PrivatePostfix(.init(
            host: "127.0.0.2", label: "postfix-mx", domain: "example.net",
            virtualMailboxes: .init(domain: "example.net", maps: "static:inbox/")))
        defer { postfix.stop() }
        let dns = try DNSMasqServer(records: [
            "--mx-host=example.net,mx.example.net,10", "--host-record=mx.example.net,127.0.0.2",
        ])
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = nil
            configuration.dnsServers = ["\(DNSMasqServer.host):\(dns.port)"]
            configuration.smtpDestinationPort = postfix.smtpAddress.port
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        let reply = try client.sendMail(
            from: "alice@example.test", to: ["bob@example.net"], body: "Subject: to a real MX\n\nthrough Postfix\n")
        #expect(reply.code == 250, "\(reply)")
        var delivered: [String] = []
        for _ in 0..<300 where delivered.isEmpty {
            delivered = postfix.deliveredFiles(in: "inbox").compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            if delivered.isEmpty { usleep(50_000) }
        }
        let message = try #require(delivered.first, "Postfix log: \(postfix.log)")
        #expect(message.contains("Subject: to a real MX"))
        #expect(message.contains("through Postfix"))
        // Postfix's own trace line names us as the client, and its envelope recipient is bob.
        #expect(message.contains("Delivered-To: bob@example.net"))
        // virtual(8) logs after the file is in the Maildir: wait for the line rather than read the log once.
        #expect(postfix.waitForLog(containing: "status=sent (delivered to maildir)").contains("status=sent (delivered to maildir)"))
        withExtendedLifetime(dns) {}
    }
}
