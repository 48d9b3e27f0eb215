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

/// A private Postfix instance on 127.0.0.3:`port`; stopped and removed by ``stop()``.
final class PrivatePostfix {
    static var isInstalled: Bool { ExternalTool.path("postfix") != nil && FileManager.default.fileExists(atPath: "/usr/lib/postfix/sbin/master") }

    let directory: String
    let port: Int
    var mailbase: String { directory + "/mail" }

    /// Starts Postfix accepting mail for `mailboxes` (addresses in `domain`) into Maildirs, relaying for nobody.
    init(domain: String, mailboxes: [String]) throws {
        // Postfix's master opens data/ as the postfix user: the folder must be traversable.
        directory = try LiveTestSupport.temporaryDirectory("postfix")
        chmod(directory, 0o755)
        port = try SMTPSinkProcess.freePort(host: "127.0.0.3")
        for sub in ["etc", "spool", "data", "mail"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        if let postfix = getpwnam("postfix") { chown(directory + "/data", postfix.pointee.pw_uid, postfix.pointee.pw_gid) }
        chown(directory + "/mail", 65534, 65534)
        let maps = mailboxes.map { "\($0)=\(domain)/\($0.split(separator: "@")[0])/" }.joined(separator: " ")
        try """
            compatibility_level = 3.6
            queue_directory = \(directory)/spool
            data_directory = \(directory)/data
            mail_owner = postfix
            setgid_group = postdrop
            inet_interfaces = loopback-only
            inet_protocols = ipv4
            myhostname = mx.\(domain)
            mydomain = \(domain)
            myorigin = \(domain)
            mydestination =
            mynetworks = 127.0.0.3/32
            virtual_mailbox_domains = \(domain)
            virtual_mailbox_base = \(directory)/mail
            virtual_mailbox_maps = inline:{ \(maps) }
            virtual_uid_maps = static:65534
            virtual_gid_maps = static:65534
            alias_maps =
            alias_database =
            smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
            smtp_dns_support_level = disabled
            smtp_host_lookup = native
            maillog_file = \(directory)/postfix.log
            maillog_file_prefixes = \(directory)
            smtputf8_enable = no

            """.write(toFile: directory + "/etc/main.cf", atomically: true, encoding: .utf8)
        // Only what smtpd, the queue and virtual delivery need; nothing chrooted.
        try """
            127.0.0.3:\(port) inet n - n - - smtpd
            cleanup unix n - n - 0 cleanup
            qmgr unix n - n 300 1 qmgr
            rewrite unix - - n - - trivial-rewrite
            bounce unix - - n - 0 bounce
            defer unix - - n - 0 bounce
            trace unix - - n - 0 bounce
            verify unix - - n - 1 verify
            proxymap unix - - n - - proxymap
            smtp unix - - n - - smtp
            relay unix - - n - - smtp
            error unix - - n - - error
            retry unix - - n - - error
            discard unix - - n - - discard
            virtual unix - n n - - virtual
            anvil unix - - n - 1 anvil
            scache unix - - n - 1 scache
            showq unix n - n - - showq
            postlog unix-dgram n - n - 1 postlogd

            """.write(toFile: directory + "/etc/master.cf", atomically: true, encoding: .utf8)
        let started = try ExternalTool.run("postfix", ["-c", directory + "/etc", "start"])
        guard started.status == 0 else {
            throw TestClientError("postfix did not start: \(started.output)\(started.errorOutput)\(log)")
        }
        for _ in 0..<100 {
            if (try? SMTPTestClient(connectingTo: SocketAddress(host: "127.0.0.3", port: port), timeoutSeconds: 1)) != nil { return }
            usleep(50_000)
        }
    }

    var log: String { (try? String(contentsOfFile: directory + "/postfix.log", encoding: .utf8)) ?? "" }

    /// The files delivered to `user`'s Maildir (new/).
    func delivered(to user: String, domain: String) -> [String] {
        let folder = "\(mailbase)/\(domain)/\(user)/new"
        return LiveTestSupport.files(in: folder).map { folder + "/" + $0 }
    }

    func stop() {
        _ = try? ExternalTool.run("postfix", ["-c", directory + "/etc", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite(.serialized, .enabled(if: PrivatePostfix.isInstalled && ExternalTool.path("python3") != nil, "postfix or python3 is not installed"))
struct PostfixAcceptsReportsTests {
    @Test func aFailureReportReachesTheSendersPostfixIntactAsAMultipartReport() throws {
        let postfix = try PrivatePostfix(domain: "sender.test", mailboxes: ["bounce@sender.test"])
        defer { postfix.stop() }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayNetworks = [NetworkRange("127.0.0.0/8")!]
            // Everything goes to the private Postfix: the refused message, then the report to sender.test.
            configuration.relayHost = SocketAddress(host: "127.0.0.3", port: postfix.port)
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
            files = postfix.delivered(to: "bounce", domain: "sender.test")
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
