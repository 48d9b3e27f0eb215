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

/// A private Postfix instance on 127.0.0.2 that delivers every recipient of `domain` into one Maildir.
/// `postfix -c DIR start` with everything below a temporary folder; nothing of the system's Postfix is used.
final class PostfixMXInstance {
    static var isUsable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/postfix") && getuid() == 0 }

    let address: SocketAddress
    let mailbox: String
    private let directory: String
    private var configuration: String { directory + "/conf" }

    init(domain: String, port: Int) throws {
        directory = try LiveTestSupport.temporaryDirectory("postfix-mx")
        chmod(directory, 0o755)
        address = SocketAddress(host: "127.0.0.2", port: port)
        let mail = directory + "/mail"
        mailbox = mail + "/inbox"
        for folder in ["conf", "queue", "data", "mail"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
        }
        guard let owner = getpwnam("postfix") else { throw TestClientError("no postfix user") }
        let (uid, gid) = (owner.pointee.pw_uid, owner.pointee.pw_gid)
        chown(directory + "/data", uid, gid)
        chown(mail, uid, gid)
        // inet_interfaces must name configured addresses (127.0.0.2 is not one, only reachable through lo's
        // 127/8 route): loopback-only, and the smtpd line of master.cf binds 127.0.0.2:port itself. No DNS
        // anywhere: no peer name lookup, no outbound lookups (this instance never sends).
        let main = """
            compatibility_level = 3.6
            queue_directory = \(directory)/queue
            data_directory = \(directory)/data
            mail_owner = postfix
            myhostname = mx.\(domain)
            mydomain = \(domain)
            myorigin = \(domain)
            mydestination =
            inet_interfaces = loopback-only
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            smtpd_peername_lookup = no
            smtp_dns_support_level = disabled
            biff = no
            virtual_mailbox_domains = \(domain)
            virtual_mailbox_base = \(mail)
            virtual_mailbox_maps = static:inbox/
            virtual_uid_maps = static:\(uid)
            virtual_gid_maps = static:\(gid)
            maillog_file_prefixes = \(directory)
            maillog_file = \(directory)/maillog
            syslog_name = postfix-postoffice-mx-test
            smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination

            """
        let services = [
            "127.0.0.2:\(port) inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "proxymap unix - - n - - proxymap",
            "error unix - - n - - error", "retry unix - - n - - error", "discard unix - - n - - discard",
            "virtual unix - n n - - virtual", "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd", "smtp unix - - n - - smtp",
        ]
        try main.write(toFile: configuration + "/main.cf", atomically: true, encoding: .utf8)
        try (services.joined(separator: "\n") + "\n").write(toFile: configuration + "/master.cf", atomically: true, encoding: .utf8)
        let started = try ExternalTool.run("postfix", ["-c", configuration, "start"], timeoutSeconds: 60)
        guard started.status == 0 else {
            throw TestClientError("postfix start failed (\(started.status)): \(maillog)")
        }
        for _ in 0..<100 {
            if (try? SMTPTestClient(connectingTo: address, timeoutSeconds: 1)) != nil { return }
            usleep(100_000)
        }
        let log = maillog
        _ = try? ExternalTool.run("postfix", ["-c", configuration, "stop"], timeoutSeconds: 60)
        throw TestClientError("postfix smtpd does not answer on \(address): \(log)")
    }

    deinit {
        // `postfix stop` waits for the master to exit; the children go with it.
        _ = try? ExternalTool.run("postfix", ["-c", configuration, "stop"], timeoutSeconds: 60)
        try? FileManager.default.removeItem(atPath: directory)
    }

    var maillog: String { (try? String(contentsOfFile: directory + "/maillog", encoding: .utf8)) ?? "" }

    /// The messages Postfix's virtual(8) agent delivered to the Maildir.
    var deliveredMessages: [String] {
        LiveTestSupport.files(in: mailbox + "/new").compactMap {
            try? String(contentsOfFile: mailbox + "/new/" + $0, encoding: .utf8)
        }
    }
}

@Suite(.enabled(if: PostfixMXInstance.isUsable, "needs /usr/sbin/postfix (apt package postfix) and root"),
    .enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"))
struct PostfixRemoteMXTests {
    @Test func aMessageFoundByMXLandsInPostfixsMaildir() throws {
        let port = try SMTPSinkProcess.freePort()
        let postfix = try PostfixMXInstance(domain: "example.net", port: port)
        let dns = try DNSMasqServer(records: [
            "--mx-host=example.net,mx.example.net,10", "--host-record=mx.example.net,127.0.0.2",
        ])
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = nil
            configuration.dnsServers = ["\(DNSMasqServer.host):\(dns.port)"]
            configuration.smtpDestinationPort = port
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
            delivered = postfix.deliveredMessages
            if delivered.isEmpty { usleep(50_000) }
        }
        let message = try #require(delivered.first, "Postfix log: \(postfix.maillog)")
        #expect(message.contains("Subject: to a real MX"))
        #expect(message.contains("through Postfix"))
        // Postfix's own trace line names us as the client, and its envelope recipient is bob.
        #expect(message.contains("Delivered-To: bob@example.net"))
        #expect(postfix.maillog.contains("status=sent (delivered to maildir)"))
        withExtendedLifetime(dns) {}
    }
}
