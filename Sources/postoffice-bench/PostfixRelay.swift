// PostfixRelay: a private Postfix instance for the relay benchmark — its own config_directory and queue in
// the benchmark's temporary folder, smtpd on a loopback port of its own, everything relayed to one
// relayhost (the smtp-sink), no DNS, no TLS, no local delivery. Started with `postfix -c DIR start`.

import Foundation

/// A Postfix that relays everything from 127.0.0.0/8 to `[127.0.0.2]:sinkPort`.
final class PostfixRelay {
    let directory: String
    let smtpPort: UInt16
    let sinkPort: UInt16
    private var isRunning = false

    var configDirectory: String { directory + "/etc" }
    var queueDirectory: String { directory + "/queue" }
    /// The master's pid file: the root of the process tree whose CPU is measured.
    var pidFile: String { queueDirectory + "/pid/master.pid" }

    init(directory: String, smtpPort: UInt16, sinkPort: UInt16) {
        self.directory = directory
        self.smtpPort = smtpPort
        self.sinkPort = sinkPort
    }

    func start() throws {
        let fm = FileManager.default
        for sub in ["etc", "queue"] {  // data/ is made by postfix itself (owned by postfix)
            try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        chmod(directory, 0o755)
        let main = """
            # postoffice-bench relay: private Postfix instance, loopback only, relays everything to the sink
            compatibility_level = 3.6
            queue_directory = \(queueDirectory)
            data_directory = \(directory)/data
            mail_owner = postfix
            setgid_group = postdrop
            maillog_file = \(directory)/maillog
            maillog_file_prefixes = \(directory)

            myhostname = postfix-relay.localdomain
            mydomain = localdomain
            myorigin = $myhostname
            mydestination =
            inet_interfaces = loopback-only
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            smtpd_banner = $myhostname ESMTP

            # everything goes to the sink; no DNS, no TLS, no local delivery
            relayhost = [127.0.0.2]:\(sinkPort)
            smtp_tls_security_level = none
            disable_dns_lookups = yes
            smtp_host_lookup = native
            smtpd_peername_lookup = no
            local_transport = error:local delivery disabled in this test instance
            local_recipient_maps =
            alias_maps =
            alias_database =
            biff = no
            append_dot_mydomain = no

            # enough processes for 50 concurrent SMTP clients
            default_process_limit = 200
            smtpd_client_connection_count_limit = 0
            """
        try (main + "\n").write(toFile: configDirectory + "/main.cf", atomically: true, encoding: .utf8)
        // Debian's master.cf services, chroot off, smtpd only on 127.0.0.1:smtpPort.
        let master = """
            # postoffice-bench relay
            127.0.0.1:\(smtpPort) inet n - n - - smtpd
            pickup    unix  n       -       n       60      1       pickup
            cleanup   unix  n       -       n       -       0       cleanup
            qmgr      unix  n       -       n       300     1       qmgr
            rewrite   unix  -       -       n       -       -       trivial-rewrite
            bounce    unix  -       -       n       -       0       bounce
            defer     unix  -       -       n       -       0       bounce
            trace     unix  -       -       n       -       0       bounce
            verify    unix  -       -       n       -       1       verify
            flush     unix  n       -       n       1000?   0       flush
            proxymap  unix  -       -       n       -       -       proxymap
            proxywrite unix -       -       n       -       1       proxymap
            smtp      unix  -       -       n       -       -       smtp
            relay     unix  -       -       n       -       -       smtp
            showq     unix  n       -       n       -       -       showq
            error     unix  -       -       n       -       -       error
            retry     unix  -       -       n       -       -       error
            discard   unix  -       -       n       -       -       discard
            anvil     unix  -       -       n       -       1       anvil
            scache    unix  -       -       n       -       1       scache
            postlog   unix-dgram n  -       n       -       1       postlogd
            """
        try (master + "\n").write(toFile: configDirectory + "/master.cf", atomically: true, encoding: .utf8)
        let outcome = try Subprocess.run("/usr/sbin/postfix", ["-c", configDirectory, "start"])
        guard outcome.status == 0 else {
            throw BenchmarkError("postfix -c \(configDirectory) start failed: \(outcome.output)")
        }
        isRunning = true
        guard Subprocess.waitForPort(smtpPort, seconds: 15) else {
            throw BenchmarkError("postfix does not listen on 127.0.0.1:\(smtpPort) (see \(directory)/maillog)")
        }
    }

    /// The master's pid, read from its pid file.
    func masterPid() -> pid_t? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Messages still in the queue (incoming, active, deferred, maildrop, hold).
    func queuedCount() -> Int {
        var count = 0
        for sub in ["incoming", "active", "deferred", "maildrop", "hold"] {
            guard let walker = FileManager.default.enumerator(atPath: queueDirectory + "/" + sub) else { continue }
            for case let name as String in walker {
                var status = stat()
                if stat(queueDirectory + "/" + sub + "/" + name, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG { count += 1 }
            }
        }
        return count
    }

    /// `postfix stop`; its master waits for the daemons.
    func stop() {
        guard isRunning else { return }
        isRunning = false
        _ = try? Subprocess.run("/usr/sbin/postfix", ["-c", configDirectory, "stop"])
    }
}
