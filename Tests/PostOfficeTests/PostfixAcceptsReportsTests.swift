// PostfixAcceptsReportsTests: a real Postfix takes our failure reports. A private Postfix instance (its own
// config_directory, queue and Maildir base in a temporary folder; smtpd on 127.0.0.3 at a free port; virtual
// mailbox delivery for sender.test) is both the next hop that refuses a recipient with 554 and the sender's
// server the report is sent to. The report must arrive in its Maildir intact, and Python's `email` package
// must read it as a multipart/report with the delivery-status and the returned message.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized, .enabled(if: PrivatePostfix.isUsable && ExternalTool.path("python3") != nil, "needs root, postfix and python3"))
struct PostfixAcceptsReportsTests {
    @Test func aFailureReportReachesTheSendersPostfixIntactAsAMultipartReport() throws {
        let postfix = try PrivatePostfix(.init(
            host: "127.0.0.3", domain: "sender.test", networks: "127.0.0.3/32",
            virtualMailboxes: .init(domain: "sender.test", maps: "inline:{ bounce@sender.test=sender.test/bounce/ }", owner: (65534, 65534)),
            settings: ["smtputf8_enable": "no"]))
        defer { postfix.stop() }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayNetworks = [NetworkRange("127.0.0.0/8")!]
            // Everything goes to the private Postfix: the refused message, then the report to sender.test.
            configuration.relayHost = postfix.smtpAddress
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO app.sender.test")
        #expect(try client.command("MAIL FROM:<bounce@sender.test> RET=FULL ENVID=order+2D42").code == 250)
        #expect(try client.command("RCPT TO:<friend@elsewhere.test> NOTIFY=FAILURE ORCPT=rfc822;Friend@elsewhere.test").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("From: bounce@sender.test\nSubject: order 42\n\nthe original body\n"))
        #expect(try client.readReply().code == 250)
        _ = try? client.command("QUIT")

        var files: [String] = []
        for _ in 0..<300 where files.isEmpty {
            files = postfix.deliveredFiles(in: "sender.test/bounce")
            if files.isEmpty { usleep(50_000) }
        }
        try #require(files.count == 1, "nothing reached Postfix's Maildir; its log:\n\(postfix.log)")
        let script = """
            import email, sys
            from email import policy
            m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.compat32)
            print('type', m.get_content_type(), m.get_param('report-type'))
            print('from', m['From'])
            print('auto', m['Auto-Submitted'])
            parts = m.get_payload()
            print('parts', ' '.join(p.get_content_type() for p in parts))
            status = parts[1].get_payload()
            print('fields', ' '.join(sorted(set(k for block in status for k in block.keys()))))
            print('action', status[1]['Action'], status[1]['Status'])
            print('envid', status[0]['Original-Envelope-Id'])
            print('orcpt', status[1]['Original-Recipient'])
            print('remote', status[1]['Remote-MTA'])
            print('returned', parts[2].get_payload()[0]['Subject'])
            print('defects', sum(len(p.defects) for p in m.walk()))
            """
        let parsed = try ExternalTool.run("python3", ["-c", script, files[0]])
        #expect(parsed.status == 0, "\(parsed.errorOutput)")
        let lines = parsed.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("type multipart/report delivery-status"), "\(parsed.output)")
        #expect(lines.contains("from Mail Delivery System <MAILER-DAEMON@mx.test>"), "\(parsed.output)")
        #expect(lines.contains("auto auto-replied"), "\(parsed.output)")
        #expect(lines.contains("parts text/plain message/delivery-status message/rfc822"), "\(parsed.output)")
        #expect(lines.contains("action failed 5.7.1"), "\(parsed.output)")
        #expect(lines.contains("envid order-42"), "\(parsed.output)")
        #expect(lines.contains("orcpt rfc822;Friend@elsewhere.test"), "\(parsed.output)")
        #expect(lines.contains("returned order 42"), "\(parsed.output)")
        #expect(lines.contains("defects 0"), "\(parsed.output)")
        #expect(lines.contains("remote dns; 127.0.0.3"), "\(parsed.output)")
        // Postfix took it from <> and delivered it as it was.
        #expect(postfix.log.contains("from=<>"), "\(postfix.log)")
    }
}
