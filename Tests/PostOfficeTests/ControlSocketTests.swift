// ControlSocketTests: the control socket's line protocol (sans-I/O), and `postoffice queue flush` reaching a
// running `postoffice serve` through DATA/control.sock: a deferred message goes to a peer that came back at
// once (the queue runs only once a day), a stale socket file is replaced, the socket is 0600 and is removed at
// shutdown.

import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ControlProtocolTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let line: String
        let request: ControlRequest?
        let error: String?
        var testDescription: String { line.debugDescription }
    }

    static let cases = [
        Case(line: "flush\n", request: .flush(domain: nil), error: nil),
        Case(line: "FLUSH Example.ORG\r\n", request: .flush(domain: "example.org"), error: nil),
        Case(line: "status", request: .status, error: nil),
        Case(line: "pickup\n", request: .pickup, error: nil),
        Case(line: "PickUp\r\n", request: .pickup, error: nil),
        Case(line: "pickup /var/mail/x\n", request: nil, error: "pickup takes no arguments"),
        Case(line: "flush a b\n", request: nil, error: "at most one DOMAIN"),
        Case(line: "flush user@example.org\n", request: nil, error: "is not a domain"),
        Case(line: "status now\n", request: nil, error: "takes no arguments"),
        Case(line: "\n", request: nil, error: "empty request"),
        Case(line: "rm -rf\n", request: nil, error: "unknown request 'rm'"),
        Case(line: "flush " + String(repeating: "a", count: 600) + "\n", request: nil, error: "too long"),
    ]

    @Test(arguments: cases)
    func requestLinesParseOrSayWhatIsWrong(_ example: Case) {
        do {
            let request = try ControlRequest(parsing: example.line)
            #expect(request == example.request)
            #expect(try ControlRequest(parsing: request.line) == request)
        } catch {
            #expect(example.request == nil)
            #expect(error.description.contains(example.error ?? "?"), "\(error)")
        }
    }

    @Test func repliesRoundTripOnOneLine() {
        let reply = ControlReply(isSuccess: false, text: "two\nlines")
        #expect(reply.line == "error two lines\n")
        #expect(ControlReply(parsing: reply.line) == reply)
        #expect(ControlReply(parsing: "ok queue run started\n") == ControlReply(isSuccess: true, text: "queue run started"))
        #expect(ControlReply(parsing: "220 hello\n") == nil)
    }
}

@Suite(.serialized) struct ControlSocketTests {
    static let enabled = CommandLineEndToEndTests.binary != nil && SMTPSinkProcess.executable != nil

    @Test(.enabled(if: enabled, "the postoffice binary is not built, or smtp-sink (postfix) is not installed"))
    func queueFlushReachesTheRunningServerWhichDeliversAtOnce() throws {
        let data = try LiveTestSupport.temporaryDirectory("control")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let port = try SMTPSinkProcess.freePort()
        // The queue runs once a day: only the flush can make the deferred message go now.
        try """
            deliver_outbound = yes
            relayhost = 127.0.0.2:\(port)
            queue_run_interval = 86400

            """.write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        let clock = SystemClock()
        let store = try QueueStore(path: data + "/queue", clock: clock, random: SystemRandomSource(), logSink: DiscardingLogSink())
        let envelope = QueueEnvelope(
            reversePath: MailAddress("alice@example.test"), arrival: clock.now(),
            recipients: [QueueRecipient(try #require(MailAddress("bob@elsewhere.test")))], isLocalSender: true)
        // The draft holds the message's lock until it is gone.
        let id = try { () throws -> QueueID in
            let draft = try store.begin(envelope)
            try draft.append(Array("From: alice@example.test\r\nSubject: flushed through the socket\r\n\r\nbody\r\n".utf8))
            return try draft.commit()
        }()
        try store.record(id, results: [0: .temporaryFailure(
            EnhancedStatusCode(4, 4, 1), "connection refused", nextAttempt: MailTime(seconds: clock.now().seconds + 3600))])

        // A socket file left by a crashed server: nobody listens on it.
        let stale = try CommandLineEndToEndTests.run(
            ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", data + "/control.sock"],
            executable: "/usr/bin/python3")
        #expect(stale.status == 0, "\(stale.errorOutput)")

        let server = Process()
        server.executableURL = URL(fileURLWithPath: try #require(CommandLineEndToEndTests.binary))
        server.arguments = ["--data", data, "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--submission", "127.0.0.1:0"]
        let stdout = Pipe()
        server.standardOutput = stdout
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        _ = try CommandLineEndToEndTests.listeningAddresses(stdout.fileHandleForReading)

        var status = stat()
        #expect(lstat(data + "/control.sock", &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        #expect(status.st_mode & 0o777 == 0o600)

        let sink = try SMTPSinkProcess(port: port)
        let flushed = try CommandLineEndToEndTests.run(["queue", "flush", "elsewhere.test", "--data", data])
        #expect(flushed.status == 0, "\(flushed.errorOutput)")
        #expect(flushed.output == "asked the running server: queue run started for mail to elsewhere.test\n")
        var delivered = false
        for _ in 0..<300 where !delivered {
            delivered = sink.dump.contains("flushed through the socket")
            if !delivered { usleep(50_000) }
        }
        #expect(delivered, "sink got: \(sink.dump)")

        let asked = ControlRequest.status.send(to: data + "/control.sock")
        #expect(asked?.isSuccess == true)
        #expect(asked?.text.hasPrefix("pid \(server.processIdentifier),") == true, "\(String(describing: asked))")

        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        #expect(lstat(data + "/control.sock", &status) != 0, "the socket file outlived the server")
        // With no server, flush edits the queue itself and says so.
        let offline = try CommandLineEndToEndTests.run(["queue", "flush", "--data", data])
        #expect(offline.status == 0, "\(offline.errorOutput)")
        #expect(offline.output.hasPrefix("no server answers on the control socket: editing the queue directly\n"))
    }
}
