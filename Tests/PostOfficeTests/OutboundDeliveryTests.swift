// OutboundDeliveryTests: issue 14 end to end with real software on loopback — a user submits, the message
// is queued, and PostOffice delivers it to Postfix's smtp-sink: through a relay host, and through MX records
// served by a real DNS server (dnsmasq); a peer that is down is retried after it comes back (flush); a 5xx
// from the peer sends the message to failed/ and never retries it.

import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Postfix's smtp-sink on a loopback address, appending what it receives to a dump file.
final class SMTPSinkProcess {
    static var executable: String? {
        ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let address: SocketAddress
    let dumpPath: String
    private let process = Process()
    private let directory: String

    /// `options`: smtp-sink's own, e.g. `-f RCPT` to refuse recipients with 5xx.
    init(host: String = "127.0.0.2", port: Int, options: [String] = []) throws {
        directory = try LiveTestSupport.temporaryDirectory("smtp-sink")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o777)  // smtp-sink writes as nobody
        dumpPath = directory + "/dump"
        address = SocketAddress(host: host, port: port)
        process.executableURL = URL(fileURLWithPath: try #require(Self.executable))
        process.arguments = ["-u", "nobody", "-D", dumpPath] + options + ["\(host):\(port)", "10"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when it accepts a connection.
        for _ in 0..<100 {
            if (try? SMTPTestClient(connectingTo: address, timeoutSeconds: 1)) != nil { return }
            usleep(50_000)
        }
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)  // it ignores SIGTERM
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var dump: String { (try? String(contentsOfFile: dumpPath, encoding: .utf8)) ?? "" }

    /// Stops the sink (SIGSTOP): connections to it open (the kernel accepts them) but nothing answers.
    func pause() { kill(process.processIdentifier, SIGSTOP) }

    /// Lets a paused sink go on (SIGCONT).
    func resume() { kill(process.processIdentifier, SIGCONT) }

    /// A TCP port that was free on `host` a moment ago.
    static func freePort(host: String = "127.0.0.2") throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, host, &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestClientError("no free port on \(host)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

@Suite(.enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
struct OutboundDeliveryTests {
    private func submit(_ office: TestPostOffice, to recipient: String, subject: String) throws {
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        let reply = try client.sendMail(from: "alice@example.test", to: [recipient], body: "Subject: \(subject)\n\nover the wire\n")
        #expect(reply.code == 250, "\(reply)")
    }

    private func queue(_ office: TestPostOffice) throws -> [QueueMessage] {
        try QueueStore(
            path: office.server.configuration.queueDirectory, clock: SystemClock(), random: SystemRandomSource(),
            logSink: DiscardingLogSink()
        ).scan()
    }

    /// Waits up to 15 s for `condition` (delivery happens on the server's threads after the 250).
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<300 {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    @Test func aSubmittedMessageReachesTheRelayHost() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
        }
        defer { office.stop() }
        try submit(office, to: "friend@elsewhere.test", subject: "via the relay host")
        #expect(eventually { sink.dump.contains("via the relay host") }, "sink got: \(sink.dump)")
        #expect(try eventually { try queue(office).isEmpty })
        #expect(sink.dump.contains("Received: from client.test"))
    }

    /// A body of several queue records (more than one read-ahead batch of 64 KiB) whose lines start with a
    /// dot reaches the sink whole and in order: the client stuffs every dot, the sink takes them off again.
    @Test func aBodyOfSeveralRecordsArrivesWholeWithItsLeadingDots() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
        }
        defer { office.stop() }
        let lines = (0..<4000).map { ".line \($0) " + String(repeating: "x", count: 40) }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        let reply = try client.sendMail(
            from: "alice@example.test", to: ["friend@elsewhere.test"],
            body: "Subject: several records\n\n" + lines.joined(separator: "\n") + "\n")
        #expect(reply.code == 250, "\(reply)")
        #expect(eventually { sink.dump.contains(".line 3999 ") }, "sink got \(sink.dump.utf8.count) bytes")
        #expect(try eventually { try queue(office).isEmpty })
        let received = sink.dump.split(separator: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
            .filter { $0.contains("line ") && $0.hasSuffix("x") }
        #expect(received == lines)
    }

    @Test(.enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"))
    func mxRecordsFromARealDNSServerChooseTheHost() throws {
        let port = try SMTPSinkProcess.freePort()
        let sink = try SMTPSinkProcess(port: port)
        let dns = try DNSMasqServer(records: [
            "--mx-host=elsewhere.test,mx.elsewhere.test,10", "--host-record=mx.elsewhere.test,127.0.0.2",
        ])
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.dnsServers = ["\(DNSMasqServer.host):\(dns.port)"]
            configuration.smtpDestinationPort = port
        }
        defer { office.stop() }
        try submit(office, to: "friend@elsewhere.test", subject: "found by MX")
        #expect(eventually { sink.dump.contains("found by MX") }, "sink got: \(sink.dump)")
        #expect(try eventually { try queue(office).isEmpty })
        withExtendedLifetime(dns) {}
    }

    @Test func aPeerThatIsDownIsRetriedWhenItComesBack() throws {
        let port = try SMTPSinkProcess.freePort()
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = SocketAddress(host: "127.0.0.2", port: port)
        }
        defer { office.stop() }
        try submit(office, to: "friend@elsewhere.test", subject: "waits for the peer")
        // Nothing listens: the attempt is deferred and the message stays.
        #expect(try eventually {
            try queue(office).first?.state.recipients.first.map { $0.attempts >= 1 && !$0.status.isFinal } ?? false
        })
        let waiting = try #require(try queue(office).first)
        #expect(waiting.state.recipients[0].status.reply.contains("refused"))
        let sink = try SMTPSinkProcess(port: port)
        office.server.flushQueue()
        #expect(eventually { sink.dump.contains("waits for the peer") }, "sink got: \(sink.dump)")
        #expect(try eventually { try queue(office).isEmpty })
    }

    @Test func aPermanentRefusalIsNotRetriedAndTheSenderGetsAReport() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort(), options: ["-f", "RCPT"])
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
        }
        defer { office.stop() }
        try submit(office, to: "nobody@elsewhere.test", subject: "refused")
        // The 5xx is final: alice (local) gets an RFC 3464 report, and the original leaves the queue.
        #expect(try eventually { !office.messages(for: "alice@example.test").isEmpty })
        let report = try #require(office.messages(for: "alice@example.test").first)
        #expect(report.contains("multipart/report"))
        #expect(report.contains("Action: failed"))
        #expect(report.contains("Status: 5."))
        #expect(report.contains("Final-Recipient: rfc822; nobody@elsewhere.test"))
        #expect(try eventually { try queue(office).isEmpty })
    }
}
