// SendmailTests: `PostOfficeServer.submit` from an embedding program, and the real `postoffice` binary as
// sendmail — `sendmail -t`, -f, recipient arguments, a symbolic link named sendmail, POSTOFFICE_DATA — and
// bsd-mailx's mail(1) driving it the way it drives a system sendmail.

import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct SendmailTests {
    /// A data folder with alice@localhost and bob@localhost, made with the library.
    static func makeServer(hostname: String = "mx.test") throws -> (PostOfficeServer, String) {
        let data = try LiveTestSupport.temporaryDirectory("sendmail")
        var configuration = PostOfficeConfiguration(hostname: hostname, dataDirectory: data)
        configuration.domains = ["localhost", "example.test"]
        try "alice@localhost:{PLAIN}pw\nbob@localhost:{PLAIN}pw\ncarol@example.test:{PLAIN}pw\n"
            .write(toFile: configuration.usersFile, atomically: true, encoding: .utf8)
        // The same host name for the binary, which reads the config file.
        // Outbound off, as the library default: the binary refuses other domains (EX_TEMPFAIL) here.
        try "hostname = \(hostname)\ndeliver_outbound = no\n".write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        return (try PostOfficeServer(configuration: configuration, clock: ManualClock(), random: SeededRandomSource(seed: 3)), data)
    }

    static func stored(_ data: String, _ user: String, domain: String = "localhost") -> [String] {
        let folder = data + "/mail/\(domain)/\(user)/new"
        return LiveTestSupport.files(in: folder).compactMap { try? String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }
    }

    // MARK: - The library entry point

    @Test func submitDeliversWithoutStartingTheServer() throws {
        let (server, data) = try Self.makeServer()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let result = server.submit(
            from: MailAddress("app@example.test"), to: [try #require(MailAddress("alice@localhost"))],
            message: Array("Subject: from the app\n\nhello\n.\nstill here\n".utf8))
        #expect(result.isDelivered && result.exitCode == 0, "\(result.reason)")
        let stored = try #require(Self.stored(data, "alice").first)
        #expect(stored.hasPrefix("Return-Path: <app@example.test>\n"))
        #expect(stored.contains("\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nFrom: app@example.test\nMessage-ID: <"))
        #expect(stored.contains("@mx.test>\n\nhello\n") && !stored.contains("still here"))
    }

    @Test func submitWithHeaderRecipientsAndOtherDomainsRefusedWithoutOutbound() throws {
        let (server, data) = try Self.makeServer()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let message = Array("To: carol@example.test\nBcc: bob\nSubject: s\n\nb\n".utf8)
        let result = server.submit(from: nil, to: [], options: .init(extractsRecipients: true, dotEndsInput: false), message: message)
        #expect(result.exitCode == 0, "\(result.reason)")
        #expect(result.recipients.map(\.description) == ["carol@example.test", "bob@localhost"])
        #expect(Self.stored(data, "bob").first.map { !$0.contains("Bcc") } == true)
        #expect(server.submissionDomain == "localhost")

        let remote = server.submit(
            from: nil, to: [try #require(MailAddress("someone@elsewhere.test"))], message: Array("Subject: s\n\nb\n".utf8))
        #expect(remote.exitCode == 75)
        #expect(remote.reason.hasPrefix("cannot send to other domains: outbound delivery is off (deliver_outbound = no)"))
    }

    // MARK: - The binary

    static var binary: String? { CommandLineEndToEndTests.binary }

    /// Runs `executable` (the binary or a link to it) with `input` on stdin and `environment` added; a
    /// POSTOFFICE_DATA of the test runner's own never leaks in.
    static func run(
        _ executable: String, _ arguments: [String], input: String, environment: [String: String] = [:]
    ) throws -> CommandLineEndToEndTests.Outcome {
        var settings: [String: String?] = ["POSTOFFICE_DATA": nil]
        for (key, value) in environment { settings[key] = value }
        return try CommandLineEndToEndTests.run(arguments, executable: executable, environment: settings, input: input)
    }

    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"))
    func theBinaryAsSendmail() throws {
        let binary = try #require(Self.binary)
        let (_, data) = try Self.makeServer()
        defer { try? FileManager.default.removeItem(atPath: data) }

        // -t: recipients from To/Cc/Bcc (folded), Bcc gone; "." ends the input without -i.
        let dashT = try Self.run(binary, ["sendmail", "--data", data, "-t"], input: """
            To: Alice <alice@localhost>,
             carol@example.test
            Bcc: bob@localhost
            Subject: dash t

            body
            .
            not part of it

            """)
        #expect(dashT.status == 0, "\(dashT.errorOutput)")
        for (user, domain) in [("alice", "localhost"), ("bob", "localhost"), ("carol", "example.test")] {
            let messages = Self.stored(data, user, domain: domain)
            #expect(messages.count == 1, "\(user)")
            #expect(messages.first.map { $0.hasSuffix("\n\nbody\n") && !$0.contains("Bcc") && $0.contains("\nMessage-ID: <") } == true)
        }

        // -f glued, -F, -i, a recipient argument given before the options, via `--data=`.
        let dashF = try Self.run(
            binary, ["--data=\(data)", "sendmail", "alice@localhost", "-fapp@example.test", "-F", "The App", "-oi", "-odi", "-oem"],
            input: "Subject: dash f\n\n.\nkept\n")
        #expect(dashF.status == 0, "\(dashF.errorOutput)")
        let second = try #require(Self.stored(data, "alice").first { $0.contains("Subject: dash f") })
        #expect(second.hasPrefix("Return-Path: <app@example.test>\n"))
        #expect(second.contains("\nFrom: The App <app@example.test>\n"))
        #expect(second.hasSuffix("\n\n.\nkept\n"))

        // Installed as a link named sendmail, with the data folder from POSTOFFICE_DATA and no -f: the
        // sender is the invoking user at the host name.
        let link = data + "/bin/sendmail"
        try FileManager.default.createDirectory(atPath: data + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: binary)
        let linked = try Self.run(link, ["-i", "bob"], input: "Subject: via the link\n\nhi\n", environment: ["POSTOFFICE_DATA": data])
        #expect(linked.status == 0, "\(linked.errorOutput)")
        let login = String(cString: getpwuid(getuid()).pointee.pw_name)
        let third = try #require(Self.stored(data, "bob").first { $0.contains("Subject: via the link") })
        #expect(third.hasPrefix("Return-Path: <\(login)@mx.test>\n"), "\(third)")

        // sysexits: usage, no such user, other domain, data error, missing data folder. Nothing stored.
        let count = { Self.stored(data, "alice").count + Self.stored(data, "bob").count }
        let before = count()
        let env = ["POSTOFFICE_DATA": data]
        #expect(try Self.run(link, ["-bs"], input: "", environment: env).status == 64)
        #expect(try Self.run(link, [], input: "Subject: s\n\nb\n", environment: env).status == 64)
        #expect(try Self.run(link, ["nobody@localhost"], input: "Subject: s\n\nb\n", environment: env).status == 67)
        let remote = try Self.run(link, ["x@elsewhere.test"], input: "Subject: s\n\nb\n", environment: env)
        #expect(remote.status == 75)
        #expect(remote.errorOutput.contains("cannot send to other domains: outbound delivery is off (deliver_outbound = no)"))
        #expect(try Self.run(link, ["-t"], input: "Subject: no recipients\n\nb\n", environment: env).status == 65)
        let big = "X-Big: " + String(repeating: "a", count: (1 << 20) + 10) + "\n\nb\n"
        #expect(try Self.run(link, ["alice"], input: big, environment: env).status == 65)
        #expect(try Self.run(link, ["alice"], input: "Subject: s\n\nb\n", environment: ["POSTOFFICE_DATA": data + "/missing"]).status == 78)
        #expect(count() == before)
        // --data wins over the environment.
        #expect(try Self.run(link, ["--data", data, "alice"], input: "Subject: s\n\nb\n", environment: ["POSTOFFICE_DATA": data + "/missing"]).status == 0)

        let help = try Self.run(binary, ["sendmail", "--help"], input: "")
        #expect(help.status == 0 && help.output.contains("EX_TEMPFAIL"))
    }

    /// With deliver_outbound, the binary queues recipients in other domains (CRLF lines, our Received: header)
    /// and delivers local ones in the same run; a server started on the same data folder later sends the
    /// queued message to the relay host (Postfix's smtp-sink).
    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
    func theBinaryQueuesOtherDomainsForDelivery() throws {
        let binary = try #require(Self.binary)
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        let (_, data) = try Self.makeServer()
        defer { try? FileManager.default.removeItem(atPath: data) }
        try """
            hostname = mx.test
            deliver_outbound = yes
            relayhost = \(sink.address.host):\(sink.address.port)
            dns_servers = 127.0.0.1:1

            """.write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        // No server runs, and DATA/control.sock is a socket nobody accepts on: the pickup request sendmail
        // makes after queueing goes unanswered (bounded by its timeout) and changes nothing: exit 0, queued.
        let silent = Process()
        silent.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        silent.arguments = ["-c", "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); print('ok', flush=True); time.sleep(60)", data + "/control.sock"]
        let silentOutput = Pipe()
        silent.standardOutput = silentOutput
        try silent.run()
        defer { if silent.isRunning { kill(silent.processIdentifier, SIGKILL); silent.waitUntilExit() } }
        #expect(PipeIO.readSome(silentOutput.fileHandleForReading).starts(with: Array("ok".utf8)))
        let sent = try Self.run(
            binary, ["sendmail", "--data", data, "-f", "app@example.test", "friend@elsewhere.test", "alice@localhost"],
            input: "Subject: to another domain\n\nfrom a script\n")
        #expect(sent.status == 0, "\(sent.errorOutput)")
        #expect(sent.errorOutput.isEmpty && sent.output.isEmpty, "sendmail must stay silent: \(sent.errorOutput)")
        kill(silent.processIdentifier, SIGKILL)
        silent.waitUntilExit()
        unlink(data + "/control.sock")
        // The local copy is stored at once; the remote one waits in the queue, in the wire form.
        #expect(Self.stored(data, "alice").contains { $0.contains("Subject: to another domain") })
        let store = try QueueStore(path: data + "/queue", clock: SystemClock(), random: SystemRandomSource(), logSink: DiscardingLogSink())
        let queued = try #require(try store.scan().first)
        #expect(queued.envelope.recipients.map(\.address.description) == ["friend@elsewhere.test"])
        #expect(queued.envelope.reversePath?.description == "app@example.test")
        let body = try store.openBody(queued.id)
        var bytes: [UInt8] = []
        while let chunk = try body.next() { bytes += chunk }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("Received: by mx.test (PostOffice) with local id "), "\(text)")
        #expect(text.contains("\r\nSubject: to another domain\r\n") && text.contains("\r\nMessage-ID: <"))
        #expect(text.hasSuffix("\r\n\r\nfrom a script\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))

        // A server on the same data folder sends it on.
        var configuration = PostOfficeConfiguration(hostname: "mx.test", dataDirectory: data)
        configuration.domains = ["localhost", "example.test"]
        configuration.smtpListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        configuration.pop3Listeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        configuration.submissionListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        configuration.deliversOutbound = true
        configuration.relayHost = sink.address
        configuration.dnsServers = ["127.0.0.1:1"]
        let server = try PostOfficeServer(configuration: configuration)
        try server.start()
        defer { server.shutdown() }
        server.flushQueue()
        for _ in 0..<300 where !sink.dump.contains("from a script") { usleep(50_000) }
        #expect(sink.dump.contains("Subject: to another domain"), "sink got: \(sink.dump)")
        for _ in 0..<100 where (try? store.scan().isEmpty) != true { usleep(50_000) }
        #expect(try store.scan().isEmpty)
    }

    /// While `postoffice serve` runs (its queue run only once an hour), the binary's sendmail queues a message
    /// for another domain and asks the server through its control socket to pick it up: it reaches the relay
    /// host (Postfix's smtp-sink) at once, not at the next queue run. The first message may still meet the
    /// server's start-up queue run; the second, sent after the first arrived, only the pickup can send.
    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
    func sendmailWhileTheServerRunsIsSentAtOnce() throws {
        let binary = try #require(Self.binary)
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        let (_, data) = try Self.makeServer()
        defer { try? FileManager.default.removeItem(atPath: data) }
        try """
            hostname = mx.test
            deliver_outbound = yes
            relayhost = \(sink.address.host):\(sink.address.port)
            dns_servers = 127.0.0.1:1
            queue_run_interval = 3600

            """.write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments = ["--data", data, "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--submission", "127.0.0.1:0"]
        var settings = ProcessInfo.processInfo.environment
        settings["POSTOFFICE_DATA"] = nil
        server.environment = settings
        let stdout = Pipe()
        server.standardOutput = stdout
        let logPath = data + "/server.log"
        #expect(FileManager.default.createFile(atPath: logPath, contents: nil))
        server.standardError = FileHandle(forWritingAtPath: logPath)
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() } }
        _ = try CommandLineEndToEndTests.listeningAddresses(stdout.fileHandleForReading)

        for subject in ["first while serving", "second while serving"] {
            let sent = try Self.run(
                binary, ["sendmail", "--data", data, "-f", "app@example.test", "friend@elsewhere.test"],
                input: "Subject: \(subject)\n\nfrom a script\n")
            #expect(sent.status == 0, "\(sent.errorOutput)")
            // Generous cap (the machine may be busy); the queue run is an hour away.
            for _ in 0..<400 where !sink.dump.contains("Subject: \(subject)") { usleep(50_000) }
            #expect(sink.dump.contains("Subject: \(subject)"), "sink got: \(sink.dump)")
        }
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("control.request") && log.contains("pickup"), "server log: \(log)")
    }

    /// bsd-mailx's mail(1), pointed at the link by `set sendmail=`, runs it as `sendmail -i -t -f SENDER`.
    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: ExternalTool.path("bsd-mailx") != nil, "bsd-mailx is not installed"))
    func bsdMailxSendsThroughIt() throws {
        let binary = try #require(Self.binary)
        let (_, data) = try Self.makeServer()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let link = data + "/sendmail"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: binary)
        try "set sendmail=\(link)\nset sendwait\n".write(toFile: data + "/mailrc", atomically: true, encoding: .utf8)
        let result = try ExternalTool.run(
            "bsd-mailx", ["-s", "from mailx", "-b", "bob@localhost", "-r", "me@example.test", "alice@localhost"],
            input: Data("written in mail(1)\n".utf8),
            environment: ["MAILRC": data + "/mailrc", "HOME": data, "POSTOFFICE_DATA": data])
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        // mail(1) may not wait for sendmail: give it a moment.
        for _ in 0..<100 where Self.stored(data, "bob").isEmpty { usleep(50_000) }
        for user in ["alice", "bob"] {
            let stored = try #require(Self.stored(data, user).first, "\(user) got nothing")
            #expect(stored.hasPrefix("Return-Path: <me@example.test>\n"))
            #expect(stored.contains("\nSubject: from mailx\n") && stored.contains("\nTo: alice@localhost\n"))
            #expect(!stored.contains("Bcc") && stored.hasSuffix("\n\nwritten in mail(1)\n"))
        }
    }
}
