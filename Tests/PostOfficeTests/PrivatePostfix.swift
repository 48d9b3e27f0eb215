// PrivatePostfix: a throwaway Postfix instance for one test — its own config, queue, data and mail folders under
// a temporary folder, smtpd on a loopback address and free port of its own, no DNS, nothing chrooted and nothing
// of the system's Postfix used. Tests choose what differs: main.cf settings, extra master.cf services, virtual
// Maildir delivery for a domain, or a relay transport (lmtp:, smtp:). Needs root: Postfix's master runs as root.

import Foundation
import PostOffice
import PostOfficeTesting
#if canImport(Glibc)
import Glibc
#endif

/// A private Postfix instance, started by `init` and stopped (folders removed) by ``stop()`` or at deinit.
final class PrivatePostfix {
    /// Root, `/usr/sbin/postfix` and its `postfix` user (apt package postfix).
    static var isUsable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/postfix") && getpwnam("postfix") != nil
    }

    /// What a test wants of its instance; everything else is the base configuration below.
    struct Options {
        /// The loopback address smtpd listens on (a free port is chosen).
        var host = "127.0.0.1"
        /// Names the temporary folder.
        var label = "postfix"
        /// Postfix's own name (myhostname is `mx.` + domain).
        var domain = "postfix.test"
        /// Clients relayed for (and trusted) by smtpd.
        var networks = "127.0.0.0/8"
        /// Delivers mail for a domain into Maildirs below ``PrivatePostfix/mailbase`` with virtual(8).
        var virtualMailboxes: VirtualMailboxes?
        /// Relays mail for `domains` through `transport` (e.g. `lmtp:inet:[127.0.0.1]:24`), numerically, no DNS.
        var relay: (domains: String, transport: String)?
        /// More main.cf settings; one named in the base configuration replaces it there.
        var settings: KeyValuePairs<String, String> = [:]
        /// More master.cf lines.
        var services: [String] = []
    }

    /// Virtual mailbox delivery: `maps` is a virtual_mailbox_maps value (`inline:{ a@d=d/a/ }`, `static:inbox/`),
    /// files owned by `owner` (the postfix user when nil).
    struct VirtualMailboxes {
        var domain: String
        var maps: String
        var owner: (uid: uid_t, gid: gid_t)?
    }

    let directory: String
    /// Where smtpd listens.
    let smtpAddress: SocketAddress
    /// The virtual mailbox base.
    var mailbase: String { directory + "/mail" }
    private var configDirectory: String { directory + "/conf" }
    private var logPath: String { directory + "/maillog" }
    private var isRunning = false

    /// Writes the configuration, runs `postfix -c DIR start` and waits (bounded) until smtpd answers.
    init(_ options: Options = Options()) throws {
        guard let postfixUser = getpwnam("postfix") else { throw TestClientError("no postfix user") }
        let postfix = (uid: postfixUser.pointee.pw_uid, gid: postfixUser.pointee.pw_gid)
        let directory = try LiveTestSupport.temporaryDirectory(options.label)
        self.directory = directory
        let port = try SMTPSinkProcess.freePort(host: options.host)
        smtpAddress = SocketAddress(host: options.host, port: port)
        // From here on stop() (or deinit, when init throws) removes the folder.
        isRunning = true
        // The unprivileged daemons must reach their queue and the log through the temporary folder.
        chmod(directory, 0o755)
        for folder in ["conf", "queue", "data", "mail"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
        }
        chown(directory + "/data", postfix.uid, postfix.gid)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        chown(logPath, postfix.uid, postfix.gid)

        // inet_interfaces must name configured addresses (127.0.0.2 is not one, only reachable through lo's
        // 127/8 route): loopback-only, and the smtpd line of master.cf binds host:port itself. No DNS anywhere:
        // no peer name look-ups, numeric next hops only.
        var settings: [(String, String)] = [
            ("compatibility_level", "3.6"),
            ("queue_directory", directory + "/queue"),
            ("data_directory", directory + "/data"),
            ("command_directory", "/usr/sbin"),
            ("daemon_directory", "/usr/lib/postfix/sbin"),
            ("meta_directory", "/etc/postfix"),
            ("shlib_directory", "/usr/lib/postfix"),
            ("mail_owner", "postfix"),
            ("setgid_group", "postdrop"),
            ("maillog_file", logPath),
            ("maillog_file_prefixes", directory),
            ("inet_interfaces", "loopback-only"),
            ("inet_protocols", "ipv4"),
            ("myhostname", "mx." + options.domain),
            ("mydomain", options.domain),
            ("myorigin", options.domain),
            ("mydestination", ""),
            ("mynetworks", options.networks),
            ("local_recipient_maps", ""),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("biff", "no"),
            ("smtpd_peername_lookup", "no"),
            ("smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination"),
            ("smtp_dns_support_level", "disabled"),
            ("lmtp_dns_support_level", "disabled"),
            ("smtp_host_lookup", "native"),
        ]
        if let mailboxes = options.virtualMailboxes {
            let owner = mailboxes.owner ?? postfix
            chown(mailbase, owner.uid, owner.gid)
            settings += [
                ("virtual_mailbox_domains", mailboxes.domain), ("virtual_mailbox_base", mailbase),
                ("virtual_mailbox_maps", mailboxes.maps), ("virtual_uid_maps", "static:\(owner.uid)"),
                ("virtual_gid_maps", "static:\(owner.gid)"),
            ]
        }
        if let relay = options.relay {
            settings += [("relay_domains", relay.domains), ("relay_transport", relay.transport)]
        }
        for (name, value) in options.settings {
            if let index = settings.firstIndex(where: { $0.0 == name }) {
                settings[index].1 = value
            } else {
                settings.append((name, value))
            }
        }
        let main = settings.map { "\($0.0) = \($0.1)\n" }.joined()
        // The stock services, not chrooted (the temporary queue has no chroot set-up), plus smtpd on our port.
        let master = [
            "\(options.host):\(port) inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp", "relay unix - - n - - smtp",
            "showq unix n - n - - showq", "error unix - - n - - error", "retry unix - - n - - error",
            "discard unix - - n - - discard", "lmtp unix - - n - - lmtp", "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache", "postlog unix-dgram n - n - 1 postlogd",
        ] + options.services
        try main.write(toFile: configDirectory + "/main.cf", atomically: true, encoding: .utf8)
        try (master.joined(separator: "\n") + "\n").write(toFile: configDirectory + "/master.cf", atomically: true, encoding: .utf8)

        let started: ToolResult
        do {
            started = try ExternalTool.run("postfix", ["-c", configDirectory, "start"], timeoutSeconds: 60)
        } catch {
            stop()
            throw error
        }
        guard started.status == 0 else {
            let problem = "postfix start failed (\(started.status)): \(started.output) \(started.errorOutput) \(log)"
            stop()
            throw TestClientError(problem)
        }
        for _ in 0..<100 {
            if (try? SMTPTestClient(connectingTo: smtpAddress, timeoutSeconds: 1)) != nil { return }
            usleep(100_000)
        }
        let problem = "postfix smtpd does not answer on \(smtpAddress): \(log)"
        stop()
        throw TestClientError(problem)
    }

    deinit { stop() }

    /// Postfix's log so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The log once it holds `text` (or after 60 s, as it is).
    func waitForLog(containing text: String) -> String {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let current = log
            if current.contains(text) { return current }
            usleep(100_000)
        }
        return log
    }

    /// The files virtual(8) delivered to the Maildir `folder` (below ``mailbase``), new/ only, as full paths.
    func deliveredFiles(in folder: String) -> [String] {
        let new = mailbase + "/" + folder + "/new"
        return LiveTestSupport.files(in: new).map { new + "/" + $0 }
    }

    /// Stops the instance, waits (bounded) for its master process to be gone, and removes the folders. Once.
    func stop() {
        guard isRunning else { return }
        isRunning = false
        let pidText = (try? String(contentsOfFile: directory + "/queue/pid/master.pid", encoding: .utf8)) ?? ""
        _ = try? ExternalTool.run("postfix", ["-c", configDirectory, "stop"], timeoutSeconds: 60)
        if let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
            for _ in 0..<100 where Self.isRunning(pid) { usleep(100_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// True while `pid` runs (a zombie that nobody reaps in a container counts as gone).
    private static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[close...].hasPrefix(") Z")
    }
}
