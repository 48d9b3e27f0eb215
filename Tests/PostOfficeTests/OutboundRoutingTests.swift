// OutboundRoutingTests: issue 14's routing and client options end to end on loopback — transport_maps (a
// bracketed next hop overriding the relay host, error:, local, `.domain` subdomains, a per-destination TLS
// level, reload), relay host AUTH against our own submission listener (STARTTLS + AUTH) and its refusals,
// 8-bit content for a server without 8BITMIME (smtp-sink -8), and connection reuse counted by a scripted
// server. The parsers (TransportTable, RelayCredentials) are tested from tables first.

import Foundation
import PostOfficeCore
import PostOfficeQueue
import PostOfficeSMTPClient
import PostOfficeTesting
import Testing
@testable import PostOffice
#if canImport(Glibc)
import Glibc
#endif

struct TransportTableTests {
    static let text = """
        # comments and blank lines are skipped

        example.org      smtp:[10.0.0.5]:25
        relay.example    smtp:mail.relay.example:2525 tls=verify
        .example.org     smtp:[10.0.0.6] tls=none
        example.net      local
        example.com      error:5.1.2 no mail here
        held.example     retry:4.4.5 held for maintenance
        """

    @Test(arguments: [
        ("example.org", TransportEntry.smtp(host: "10.0.0.5", port: 25, looksUpMX: false, tls: nil)),
        ("EXAMPLE.ORG.", .smtp(host: "10.0.0.5", port: 25, looksUpMX: false, tls: nil)),
        ("sub.example.org", .smtp(host: "10.0.0.6", port: nil, looksUpMX: false, tls: .disabled)),
        ("a.b.example.org", .smtp(host: "10.0.0.6", port: nil, looksUpMX: false, tls: .disabled)),
        ("relay.example", .smtp(host: "mail.relay.example", port: 2525, looksUpMX: true, tls: .verify)),
        ("example.net", .local),
        ("example.com", .error(EnhancedStatusCode(5, 1, 2), "no mail here")),
        ("held.example", .retry(EnhancedStatusCode(4, 4, 5), "held for maintenance")),
    ])
    func entriesMatchLikePostfix(_ domain: String, _ expected: TransportEntry) throws {
        let table = try TransportTable(parsing: Self.text, file: "transport")
        #expect(table.entry(for: domain) == expected)
    }

    @Test(arguments: ["other.test", "sub.example.net", "xexample.org", "org"])
    func otherDomainsHaveNoEntry(_ domain: String) throws {
        // `example.net` does not match its subdomains (no leading dot), and `.example.org` needs a dot boundary.
        #expect(try TransportTable(parsing: Self.text, file: "transport").entry(for: domain) == nil)
    }

    @Test func aStarMatchesWhatNothingElseDoes() throws {
        let table = try TransportTable(parsing: "*  smtp:[192.0.2.1]:587\nexample.net local\n", file: "t")
        #expect(table.entry(for: "anything.test") == .smtp(host: "192.0.2.1", port: 587, looksUpMX: false, tls: nil))
        #expect(table.entry(for: "example.net") == .local)
    }

    @Test(arguments: [
        ("example.org", "t:1: expected DOMAIN TRANSPORT"),
        ("example.org pigeon:[10.0.0.1]", "t:1: unknown transport 'pigeon'"),
        ("example.org smtp:[10.0.0.1]:99999", "t:1: '99999' is not a port"),
        ("example.org smtp:[10.0.0.1 ", "lacks its ']'"),
        ("example.org smtp:[10.0.0.1] tls=sometimes", "t:1: unknown option 'tls=sometimes'"),
        ("example.org smtp:", "smtp: needs a next hop"),
        ("bad..name smtp:[10.0.0.1]", "is not a domain"),
        ("example.org error:4.1.1 soft", "error: expects a 5.X.Y code"),
        ("ok.test local\nexample.org local:x", "t:2: 'local' takes no next hop"),
    ])
    func badLinesNameTheLineAndTheReason(_ text: String, _ message: String) {
        do {
            _ = try TransportTable(parsing: text, file: "t")
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func credentialsParseBothLineForms() throws {
        let credentials = try RelayCredentials(
            parsing: "[smtp.example.net]:587 alice:pa:ss\nrelay.example bob secret\n# note\n", file: "c")
        #expect(credentials.credentials(host: "smtp.example.net", port: 587)?.authenticationIdentity == "alice")
        #expect(credentials.credentials(host: "smtp.example.net", port: 587)?.password == "pa:ss")
        #expect(credentials.credentials(host: "smtp.example.net", port: 25) == nil)
        #expect(credentials.credentials(host: "RELAY.example", port: 2525)?.password == "secret")
        #expect(throws: ConfigurationError.self) { try RelayCredentials(parsing: "host-only\n", file: "c") }
    }

    @Test func aCredentialsFileOthersCanReadIsRefusedNamingTheFix() throws {
        let directory = try LiveTestSupport.temporaryDirectory("credentials")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/relay-credentials"
        try "[127.0.0.1]:587 user:password\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o640)
        do {
            _ = try RelayCredentials(file: path)
            Issue.record("a group-readable password file was accepted")
        } catch {
            #expect(error.description.contains("chmod 600 \(path)"))
            #expect(!error.description.contains("password\n"))
        }
        chmod(path, 0o600)
        #expect(try RelayCredentials(file: path).credentials(host: "127.0.0.1", port: 587)?.authenticationIdentity == "user")
    }
}

/// A scripted SMTP server (python3) on 127.0.0.2 that writes `connect` per connection and `message` per
/// accepted message to a log: connection reuse is counted from outside our process.
final class CountingSMTPServer {
    static var isAvailable: Bool { ExternalTool.path("python3") != nil }

    static let script = """
        import socket, sys, threading
        host, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(16)
        lock = threading.Lock()
        def note(word):
            with lock:
                with open(log, 'a') as f:
                    f.write(word + '\\n')
        def serve(conn):
            note('connect')
            lines = conn.makefile('rb')
            conn.sendall(b'220 counter ESMTP\\r\\n')
            in_data = False
            for line in lines:
                if in_data:
                    if line.rstrip(b'\\r\\n') == b'.':
                        in_data = False
                        note('message')
                        conn.sendall(b'250 2.0.0 accepted\\r\\n')
                    continue
                verb = line[:4].upper()
                if verb == b'EHLO':
                    conn.sendall(b'250-counter\\r\\n250 8BITMIME\\r\\n')
                elif verb == b'DATA':
                    in_data = True
                    conn.sendall(b'354 go ahead\\r\\n')
                elif verb == b'QUIT':
                    conn.sendall(b'221 2.0.0 bye\\r\\n')
                    break
                else:
                    conn.sendall(b'250 2.0.0 ok\\r\\n')
            conn.close()
        note('ready')
        while True:
            connection, _ = server.accept()
            threading.Thread(target=serve, args=(connection,), daemon=True).start()
        """

    let address: SocketAddress
    private let process = Process()
    private let directory: String
    private var logPath: String { directory + "/log" }

    init() throws {
        directory = try LiveTestSupport.temporaryDirectory("counting-smtp")
        let port = try SMTPSinkProcess.freePort()
        address = SocketAddress(host: "127.0.0.2", port: port)
        process.executableURL = URL(fileURLWithPath: try #require(ExternalTool.path("python3")))
        process.arguments = ["-c", Self.script, "127.0.0.2", String(port), logPath]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 where !log.contains("ready") { usleep(50_000) }
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var log: [String] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
    var connections: Int { log.filter { $0 == "connect" }.count }
    var messages: Int { log.filter { $0 == "message" }.count }
}

@Suite(.enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
struct OutboundRoutingTests {
    private func submit(
        _ office: TestPostOffice, to recipient: String, body: String, user: String = "alice@example.test"
    ) throws {
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login(user, password: "pw").code == 235)
        let reply = try client.sendMail(from: user, to: [recipient], body: body)
        #expect(reply.code == 250, "\(reply)")
    }

    private func queue(_ office: TestPostOffice) throws -> [QueueMessage] {
        try QueueStore(
            path: office.server.configuration.queueDirectory, clock: SystemClock(), random: SystemRandomSource(),
            logSink: DiscardingLogSink()
        ).scan()
    }

    /// The last reply recorded for the only recipient of the only queued message, once it was tried.
    private func waitingReply(_ office: TestPostOffice) throws -> String? {
        var reply: String?
        _ = try eventually {
            guard let recipient = try queue(office).first?.state.recipients.first, recipient.attempts >= 1 else { return false }
            #expect(!recipient.status.isFinal)
            reply = recipient.status.reply
            return true
        }
        return reply
    }

    /// Waits up to 15 s for `condition` (delivery happens on the server's threads after the 250).
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<300 {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    private static func write(_ text: String, to path: String, mode: mode_t = 0o644) {
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode)
    }

    // MARK: transport_maps

    @Test func transportMapsOverrideTheRelayHostPerDomain() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        let closed = try SMTPSinkProcess.freePort()
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            // Everything else would go to a relay host where nobody listens.
            configuration.relayHost = SocketAddress(host: "127.0.0.2", port: closed)
            let path = configuration.dataDirectory + "/transport"
            Self.write("""
                example.org      smtp:[127.0.0.2]:\(sink.address.port)
                example.com      error:5.1.2 no mail here
                .local.test      local
                """, to: path)
            configuration.transportMapsFile = path
        }
        defer { office.stop() }
        try submit(office, to: "friend@example.org", body: "Subject: by transport_maps\n\nbracketed next hop\n")
        #expect(eventually { sink.dump.contains("by transport_maps") }, "sink got: \(sink.dump)")
        // `error:` fails at once with the entry's code and text, and alice gets the report.
        try submit(office, to: "someone@example.com", body: "Subject: refused by the table\n\nnever sent\n")
        #expect(eventually { office.messages(for: "alice@example.test").contains { $0.contains("Status: 5.1.2") } })
        let report = try #require(office.messages(for: "alice@example.test").first { $0.contains("Status: 5.1.2") })
        #expect(report.contains("no mail here"))
        // `.local.test  local`: a subdomain's mail goes to our own mailbox of the same local part.
        try submit(office, to: "bob@deep.local.test", body: "Subject: delivered here\n\nlocal transport\n")
        #expect(eventually { office.messages(for: "bob@example.test").contains { $0.contains("local transport") } })
        #expect(try eventually { try queue(office).isEmpty })
        #expect(!sink.dump.contains("never sent"))
    }

    @Test(.enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"))
    func aNextHopNameIsLookedUpByMXOrByAddressWithBrackets() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        // relay.test has an MX (to 127.0.0.2); direct.test only an address: `[direct.test]` must not ask for MX.
        let dns = try DNSMasqServer(records: [
            "--mx-host=relay.test,mx.relay.test,10", "--host-record=mx.relay.test,127.0.0.2",
            "--host-record=direct.test,127.0.0.2",
        ])
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.dnsServers = ["\(DNSMasqServer.host):\(dns.port)"]
            let path = configuration.dataDirectory + "/transport"
            Self.write("""
                example.org   smtp:relay.test:\(sink.address.port)
                example.net   smtp:[direct.test]:\(sink.address.port)
                """, to: path)
            configuration.transportMapsFile = path
        }
        defer { office.stop() }
        try submit(office, to: "one@example.org", body: "Subject: via the MX of relay.test\n\nmx\n")
        try submit(office, to: "two@example.net", body: "Subject: via the address of direct.test\n\naddress\n")
        #expect(eventually { sink.dump.contains("via the MX of relay.test") && sink.dump.contains("via the address of direct.test") },
            "sink got: \(sink.dump)")
        #expect(try eventually { try queue(office).isEmpty })
        withExtendedLifetime(dns) {}
    }

    @Test func aPerDestinationTLSLevelAndAReloadedTableApply() throws {
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort())
        var path = ""
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            path = configuration.dataDirectory + "/transport"
            // smtp-sink offers no STARTTLS: `tls=encrypt` must keep the mail queued, not send it in clear text.
            Self.write("example.org smtp:[127.0.0.2]:\(sink.address.port) tls=encrypt\n", to: path)
            configuration.transportMapsFile = path
        }
        defer { office.stop() }
        try submit(office, to: "friend@example.org", body: "Subject: needs TLS\n\nsecret\n")
        let reply = try #require(try waitingReply(office))
        #expect(reply.contains("TLS required"), "\(reply)")
        #expect(!sink.dump.contains("needs TLS"))
        // The table changes and the server reloads: the next attempt uses the new entry.
        Self.write("example.org smtp:[127.0.0.2]:\(sink.address.port) tls=may\n", to: path)
        let report = try office.server.reload(configuration: office.server.currentConfiguration)
        #expect(report.needsRestart.isEmpty)
        office.server.flushQueue()
        #expect(eventually { sink.dump.contains("needs TLS") }, "sink got: \(sink.dump)")
        #expect(try eventually { try queue(office).isEmpty })
    }

    @Test func aBadTransportTableRefusesTheStartNamingTheLine() throws {
        do {
            let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
                configuration.deliversOutbound = true
                let path = configuration.dataDirectory + "/transport"
                Self.write("example.org smtp:[127.0.0.2]:25\nexample.net carrier-pigeon\n", to: path)
                configuration.transportMapsFile = path
            }
            office.stop()
            Issue.record("started with a bad transport_maps line")
        } catch {
            #expect("\(error)".contains("transport:2: unknown transport 'carrier-pigeon'"), "\(error)")
        }
    }

    // MARK: Relay host AUTH

    /// A second PostOffice as the smarthost: its submission listener speaks STARTTLS and AUTH.
    private func smarthost(tls: Bool) throws -> TestPostOffice {
        try TestPostOffice(users: ["relay@smarthost.test": "relaypw", "bob@smarthost.test": "pw"], tls: tls) { configuration in
            // It relays for our server's users, whose addresses its login does not own.
            configuration.rejectsSenderLoginMismatch = false
        }
    }

    private func office(relayingThrough smarthost: TestPostOffice, password: String, mode: mode_t = 0o600) throws -> TestPostOffice {
        try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = smarthost.submissionAddress
            let path = configuration.dataDirectory + "/relay-credentials"
            Self.write("[\(smarthost.submissionAddress.host)]:\(smarthost.submissionAddress.port) relay@smarthost.test:\(password)\n", to: path, mode: mode)
            configuration.relayCredentialsFile = path
        }
    }

    @Test func theRelayHostGetsAUTHAfterSTARTTLS() throws {
        let smarthost = try smarthost(tls: true)
        defer { smarthost.stop() }
        let office = try office(relayingThrough: smarthost, password: "relaypw")
        defer { office.stop() }
        try submit(office, to: "bob@smarthost.test", body: "Subject: through the smarthost\n\nwith AUTH\n")
        let delivered = try smarthost.waitForMessage(for: "bob@smarthost.test", timeoutSeconds: 15)
        #expect(delivered.contains("with AUTH"))
        // The smarthost's Received line says the message came in over TLS with AUTH (RFC 3848 ESMTPSA).
        #expect(delivered.contains("ESMTPSA"))
        #expect(try eventually { try queue(office).isEmpty })
    }

    @Test func aWrongPasswordDefersTheMail() throws {
        let smarthost = try smarthost(tls: true)
        defer { smarthost.stop() }
        let office = try office(relayingThrough: smarthost, password: "wrong")
        defer { office.stop() }
        try submit(office, to: "bob@smarthost.test", body: "Subject: bad login\n\nstays queued\n")
        let reply = try #require(try waitingReply(office))
        #expect(reply.contains("535"), "\(reply)")
        #expect(smarthost.messages(for: "bob@smarthost.test").isEmpty)
    }

    @Test func credentialsAreNeverSentWithoutTLS() throws {
        let smarthost = try smarthost(tls: false)
        defer { smarthost.stop() }
        let office = try office(relayingThrough: smarthost, password: "relaypw")
        defer { office.stop() }
        try submit(office, to: "bob@smarthost.test", body: "Subject: no TLS\n\nstays queued\n")
        let reply = try #require(try waitingReply(office))
        #expect(reply.contains("AUTH needs TLS"), "\(reply)")
        #expect(smarthost.messages(for: "bob@smarthost.test").isEmpty)
    }

    @Test func aCredentialsFileOthersCanReadRefusesTheStart() throws {
        let smarthost = try smarthost(tls: true)
        defer { smarthost.stop() }
        do {
            let office = try office(relayingThrough: smarthost, password: "relaypw", mode: 0o644)
            office.stop()
            Issue.record("started with a world-readable credentials file")
        } catch {
            #expect("\(error)".contains("chmod 600"), "\(error)")
            #expect(!"\(error)".contains("relaypw"))
        }
    }

    // MARK: 8BITMIME

    @Test func eightBitContentForAServerWithout8BITMIMEBouncesAndSevenBitGoes() throws {
        // smtp-sink -8 does not announce 8BITMIME.
        let sink = try SMTPSinkProcess(port: try SMTPSinkProcess.freePort(), options: ["-8"])
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = sink.address
        }
        defer { office.stop() }
        try submit(office, to: "friend@elsewhere.test", body: "Subject: plain\n\nseven bit only\n")
        #expect(eventually { sink.dump.contains("seven bit only") }, "sink got: \(sink.dump)")
        try submit(office, to: "friend@elsewhere.test", body: "Subject: accents\n\ncaf\u{E9} cr\u{E8}me\n")
        #expect(eventually { office.messages(for: "alice@example.test").contains { $0.contains("Status: 5.6.3") } })
        #expect(!sink.dump.contains("accents"))
        #expect(try eventually { try queue(office).isEmpty })
    }

    // MARK: Connection reuse

    @Test(.enabled(if: CountingSMTPServer.isAvailable, "python3 is not installed"))
    func theNextMessageToTheSameHostReusesTheConnection() throws {
        let server = try CountingSMTPServer()
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayHost = server.address
        }
        defer { office.stop() }
        for number in 1...3 {
            try submit(office, to: "friend@elsewhere.test", body: "Subject: number \(number)\n\nreuse\n")
            #expect(eventually { server.messages == number }, "server log: \(server.log)")
        }
        // Three messages, one after the other within the idle time: one connection (RSET between them).
        #expect(server.connections == 1, "server log: \(server.log)")
        #expect(try eventually { try queue(office).isEmpty })
    }
}
