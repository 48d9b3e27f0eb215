// CommandLineEndToEndTests: the real `postoffice` binary — serve on random ports, add a user and reload it
// with SIGHUP, mail in with swaks and out with mpop, stop with SIGTERM; bad configs and arguments; and
// `postoffice deliver` as an MDA, read back with mblaze.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct CommandLineEndToEndTests {
    /// The built binary, or nil (tests then skip: build it with `swift build --product postoffice`).
    static let binary: String? = {
        let root = LiveTestSupport.repositoryRoot + "/.build"
        return [root + "/debug/postoffice", root + "/release/postoffice"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    struct Outcome {
        var status: Int32
        var output: String
        var errorOutput: String
    }

    /// Runs `executable` (default: the built binary) to completion with `input` on stdin, in `directory` (the
    /// test's own when nil), with `environment` set on top of this process's (a nil value removes a variable).
    static func run(
        _ arguments: [String], executable: String? = nil, in directory: String? = nil,
        environment: [String: String?] = [:], input: String = ""
    ) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(executable ?? binary))
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !environment.isEmpty {
            var merged = ProcessInfo.processInfo.environment
            for (key, value) in environment { merged[key] = value }
            process.environment = merged
        }
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        PipeIO.write(Data(input.utf8), to: stdin.fileHandleForWriting)
        try? stdin.fileHandleForWriting.close()
        let output = PipeIO.readToEnd(stdout.fileHandleForReading)
        let errorOutput = PipeIO.readToEnd(stderr.fileHandleForReading)
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
            errorOutput: String(decoding: errorOutput, as: UTF8.self))
    }

    /// Reads the server's stdout until it has printed its SMTP and POP3 addresses.
    static func listeningAddresses(_ handle: FileHandle) throws -> (smtp: SocketAddress, pop3: SocketAddress) {
        var text = ""
        var smtp: SocketAddress?
        var pop3: SocketAddress?
        while smtp == nil || pop3 == nil {
            let data = PipeIO.readSome(handle)
            if data.isEmpty { throw TestClientError("the server exited before listening; it printed: \(text)") }
            text += String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard words.count == 2 else { continue }
                if words[0] == "SMTP" { smtp = SocketAddress(parsing: String(words[1])) }
                if words[0] == "POP3" { pop3 = SocketAddress(parsing: String(words[1])) }
            }
        }
        return (try #require(smtp), try #require(pop3))
    }

    /// The reply to RCPT TO:<address> in a fresh session.
    static func recipientReply(_ smtp: SocketAddress, _ address: String) throws -> Int {
        let client = try SMTPTestClient(connectingTo: smtp)
        _ = try client.readReply()
        _ = try client.command("HELO probe.example.net")
        _ = try client.command("MAIL FROM:<probe@example.net>")
        let code = try client.command("RCPT TO:<\(address)>").code
        _ = try client.command("QUIT")
        return code
    }

    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: ExternalTool.path("swaks") != nil && ExternalTool.path("mpop") != nil, "swaks or mpop is not installed"))
    func serveReloadSendFetchAndStop() throws {
        let data = try LiveTestSupport.temporaryDirectory("cli")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: try #require(Self.binary))
        server.arguments = ["--data", data, "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--submission", "127.0.0.1:0"]
        let stdout = Pipe()
        server.standardOutput = stdout
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let (smtp, pop3) = try Self.listeningAddresses(stdout.fileHandleForReading)

        // alice does not exist yet; the users file gets her, and `user add` reloads the running server
        // (a SIGHUP of our own does the same again).
        #expect(try Self.recipientReply(smtp, "alice@localhost") == 550)
        let added = try Self.run(["user", "add", "alice@localhost", "--password-stdin", "--data", data], input: "alice pw\n")
        #expect(added.status == 0, "\(added.errorOutput)")
        #expect(added.output == "added alice@localhost\nreloaded the running server (pid \(server.processIdentifier))\n")
        #expect(kill(server.processIdentifier, SIGHUP) == 0)
        var code = 0
        for _ in 0..<200 {
            code = try Self.recipientReply(smtp, "alice@localhost")
            if code == 250 { break }
            usleep(20_000)
        }
        #expect(code == 250, "the reload did not take effect")

        let swaks = try ExternalTool.run("swaks", [
            "--server", smtp.host, "--port", String(smtp.port), "--from", "sender@example.net", "--to", "alice@localhost",
            "--header", "Subject: through the binary", "--body", "first line\n.dot line\nlast line",
        ])
        #expect(swaks.status == 0, "\(swaks.output)")

        let maildir = data + "/fetched"
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: maildir + "/" + sub, withIntermediateDirectories: true)
        }
        let mpop = try ExternalTool.run("mpop", [
            "-C", "/dev/null", "--host=\(pop3.host)", "--port=\(pop3.port)", "--tls=off", "--auth=user",
            "--user=alice@localhost", "--passwordeval=echo 'alice pw'", "--delivery=maildir,\(maildir)", "--keep=off",
            "--uidls-file=\(data)/uidls", "--quiet",
        ])
        #expect(mpop.status == 0, "\(mpop.output)\(mpop.errorOutput)")
        let fetched = LiveTestSupport.files(in: maildir + "/new")
        try #require(fetched.count == 1)
        let message = LiveTestSupport.withoutTrace(try String(contentsOfFile: maildir + "/new/" + fetched[0], encoding: .utf8))
        #expect(message.contains("Subject: through the binary\n"))
        #expect(message.contains("\n\nfirst line\n.dot line\nlast line\n"), "\(message.debugDescription)")
        #expect(LiveTestSupport.files(in: data + "/mail/localhost/alice/new").isEmpty)
        #expect(LiveTestSupport.files(in: data + "/mail/localhost/alice/cur").isEmpty)

        #expect(kill(server.processIdentifier, SIGTERM) == 0)
        server.waitUntilExit()
        #expect(server.terminationReason == .exit)
        #expect(server.terminationStatus == 0)
    }

    /// A config file or command line that must be refused: one line on stderr naming the problem, exit 2.
    struct BadInput: Sendable, CustomTestStringConvertible {
        var label: String
        var config: String?
        var arguments: [String]
        /// Text the error line must contain.
        var expected: String
        var testDescription: String { label }
    }

    static let badInputs: [BadInput] = [
        BadInput(label: "unknown key", config: "hostname = mx.test\nbogus_key = 1\n", arguments: ["check"],
                 expected: "postoffice.conf:2: unknown key 'bogus_key'"),
        BadInput(label: "bad number", config: "message_size_limit = lots\n", arguments: ["check"],
                 expected: "postoffice.conf:1: message_size_limit: 'lots' is not a whole number"),
        BadInput(label: "number out of range", config: "recipient_limit = 5\n", arguments: ["check"],
                 expected: "postoffice.conf:1: recipient_limit"),
        BadInput(label: "bad boolean", config: "reject_long_lines = perhaps\n", arguments: ["check"],
                 expected: "postoffice.conf:1: reject_long_lines"),
        BadInput(label: "key set twice", config: "hostname = a.test\nhostname = b.test\n", arguments: ["check"],
                 expected: "postoffice.conf:2: 'hostname' is set twice"),
        BadInput(label: "no equals sign", config: "hostname mx.test\n", arguments: ["check"],
                 expected: "postoffice.conf:1: expected 'key = value'"),
        BadInput(label: "bad listener option", config: nil, arguments: ["check", "--smtp", "nonsense"],
                 expected: "--smtp nonsense: expected HOST:PORT"),
        BadInput(label: "unknown option", config: nil, arguments: ["check", "--frobnicate"],
                 expected: "unknown option --frobnicate"),
        BadInput(label: "unknown command", config: nil, arguments: ["frobnicate"], expected: "unknown command 'frobnicate'"),
        BadInput(label: "option without value", config: nil, arguments: ["check", "--hostname"], expected: "--hostname needs a value"),
        BadInput(label: "check with an argument", config: nil, arguments: ["check", "extra"], expected: "check takes no arguments"),
    ]

    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          arguments: badInputs)
    func badConfigurationOrArgumentsExitWithStatus2(_ input: BadInput) throws {
        let data = try LiveTestSupport.temporaryDirectory("badcli")
        defer { try? FileManager.default.removeItem(atPath: data) }
        if let config = input.config {
            try config.write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        }
        let outcome = try Self.run(input.arguments + ["--data", data])
        #expect(outcome.status == 2)
        #expect(outcome.output.isEmpty)
        let lines = outcome.errorOutput.split(separator: "\n")
        #expect(lines.count == 1, "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.hasPrefix("postoffice: "))
        #expect(outcome.errorOutput.contains(input.expected), "\(outcome.errorOutput)")
    }

    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"))
    func aGoodConfigurationChecksClean() throws {
        let data = try LiveTestSupport.temporaryDirectory("goodcli")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try "hostname = mx.test\nmessage_size_limit = 1_000_000\n".write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        let outcome = try Self.run(["check", "--data", data])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(outcome.output.contains("hostname = mx.test\n"))
        #expect(outcome.output.contains("message_size_limit = 1000000\n"))
    }

    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: ExternalTool.path("mlist") != nil, "mblaze (mlist) is not installed"))
    func deliverAsAnMDAThenReadWithMblaze() throws {
        let data = try LiveTestSupport.temporaryDirectory("deliver")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let added = try Self.run(["user", "add", "alice@localhost", "--password-stdin", "--data", data], input: "pw\n")
        try #require(added.status == 0, "\(added.errorOutput)")
        let message = "From: someone@example.net\nTo: alice@localhost\nSubject: via deliver\n\nhello from the MDA\n.dot\n"
        let delivered = try Self.run(["deliver", "--to", "alice@localhost", "--from", "someone@example.net", "--data", data], input: message)
        #expect(delivered.status == 0, "\(delivered.errorOutput)")

        let maildir = data + "/mail/localhost/alice"
        let listed = try ExternalTool.run("mlist", [maildir])
        #expect(listed.status == 0)
        let paths = listed.output.split(separator: "\n").map(String.init)
        #expect(paths.count == 1)
        let stored = try String(contentsOfFile: try #require(paths.first), encoding: .utf8)
        #expect(RealClientSMTPTests.strippingTrace(stored) == message)
        #expect(stored.hasPrefix("Return-Path: <someone@example.net>\n"))

        let unknown = try Self.run(["deliver", "--to", "nobody@localhost", "--data", data], input: message)
        #expect(unknown.status == 67)
        #expect(try ExternalTool.run("mlist", [maildir]).output.split(separator: "\n").count == 1)
    }

    /// `postoffice deliver` run by an ordinary user (fetchmail's or procmail's MDA) into a data folder that user
    /// owns: the message lands whole in new/ and nothing stays in tmp/. Without CAP_DAC_READ_SEARCH the unnamed
    /// draft is linked by AT_EMPTY_PATH where the kernel allows it to the file's opener (Linux 6.10+), else
    /// through /proc/self/fd.
    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: getuid() == 0, "needs root to run the binary as another user"),
          .enabled(if: ExternalTool.path("setpriv") != nil, "setpriv (util-linux) is not installed"))
    func deliverAsAnUnprivilegedUser() throws {
        let data = try LiveTestSupport.temporaryDirectory("deliver-unprivileged")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let added = try Self.run(["user", "add", "alice@localhost", "--password-stdin", "--data", data], input: "pw\n")
        try #require(added.status == 0, "\(added.errorOutput)")
        let chown = try ExternalTool.run("chown", ["-R", "65534:65534", data])
        try #require(chown.status == 0, "\(chown.errorOutput)")
        let message = "From: someone@example.net\nSubject: as nobody\n\nhello\n"
        let postoffice = try #require(Self.binary)
        let arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", postoffice, "deliver", "--to", "alice@localhost", "--data", data]
        let delivered = try Self.run(arguments, executable: ExternalTool.path("setpriv"), input: message)
        #expect(delivered.status == 0, "\(delivered.errorOutput)")
        let maildir = data + "/mail/localhost/alice"
        let stored = try FileManager.default.contentsOfDirectory(atPath: maildir + "/new")
        #expect(stored.count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir + "/tmp").isEmpty)
        let text = try String(contentsOfFile: maildir + "/new/" + #require(stored.first), encoding: .utf8)
        #expect(text.hasSuffix("Subject: as nobody\n\nhello\n"))
        let owner = try FileManager.default.attributesOfItem(atPath: maildir + "/new/" + #require(stored.first))[.ownerAccountID] as? NSNumber
        #expect(owner?.intValue == 65534)
    }

    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"))
    func deliverOverQuotaExitsLikeDovecotLDA() throws {
        let data = try LiveTestSupport.temporaryDirectory("deliver-quota")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let added = try Self.run(["user", "add", "alice@localhost", "--password-stdin", "--data", data], input: "pw\n")
        try #require(added.status == 0, "\(added.errorOutput)")
        let config = data + "/postoffice.conf"
        let existing = (try? String(contentsOfFile: config, encoding: .utf8)) ?? ""
        try (existing + "\nquota_messages = 1\n").write(toFile: config, atomically: true, encoding: .utf8)
        let message = "From: someone@example.net\nSubject: quota\n\nhello\n"
        let arguments = ["deliver", "--to", "alice@localhost", "--data", data]
        #expect(try Self.run(arguments, input: message).status == 0)
        let full = try Self.run(arguments, input: message)
        #expect(full.status == 77, "\(full.errorOutput)")   // EX_NOPERM, as dovecot-lda -e
        #expect(full.errorOutput.contains("5.2.2"))
        #expect(full.errorOutput.contains("must delete mail"))
        try (existing + "\nquota_messages = 1\nquota_full_tempfail = yes\n").write(toFile: config, atomically: true, encoding: .utf8)
        let deferred = try Self.run(arguments, input: message)
        #expect(deferred.status == 75, "\(deferred.errorOutput)")
        #expect(deferred.errorOutput.contains("4.2.2"))
    }

    /// VmRSS of a process, in bytes.
    static func residentBytes(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }

    /// The server alone, in its own process: what 1,000 idle SMTP connections cost it. Printed, not asserted
    /// (beyond every connection being greeted and a new session still being served).
    @Test(.enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status"), "needs /proc"),
          .enabled(if: SMTPServerBehaviourTests.raiseDescriptorLimit(to: 1200) >= 1200, "the RLIMIT_NOFILE hard limit is below 1,200"))
    func residentMemoryPerIdleConnectionOfTheServerProcess() throws {
        let count = 1000
        let data = try LiveTestSupport.temporaryDirectory("rss")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: try #require(Self.binary))
        server.arguments = ["--data", data, "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--submission", "127.0.0.1:0"]
        let stdout = Pipe()
        server.standardOutput = stdout
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let (smtp, _) = try Self.listeningAddresses(stdout.fileHandleForReading)
        // One session first, so one-time allocations are not counted per connection.
        let warm = try SMTPTestClient(connectingTo: smtp)
        #expect(try warm.readReply().code == 220)
        #expect(try warm.command("QUIT").code == 221)
        let before = try #require(Self.residentBytes(of: server.processIdentifier))
        var clients: [SMTPTestClient] = []
        for _ in 0..<count { clients.append(try SMTPTestClient(connectingTo: smtp)) }
        var greeted = 0
        for client in clients where (try? client.readReply().code) == 220 { greeted += 1 }
        #expect(greeted == count)
        let after = try #require(Self.residentBytes(of: server.processIdentifier))
        print("server process RSS: \(before / 1024) KiB idle, \(after / 1024) KiB with \(count) idle SMTP connections: \((after - before) / count) bytes per connection")
        let fresh = try SMTPTestClient(connectingTo: smtp)
        #expect(try fresh.readReply().code == 220)
        #expect(try fresh.command("EHLO fresh.example.net").code == 250)
        #expect(try fresh.command("QUIT").code == 221)
        clients.removeAll()
        #expect(kill(server.processIdentifier, SIGTERM) == 0)
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
    }
}
