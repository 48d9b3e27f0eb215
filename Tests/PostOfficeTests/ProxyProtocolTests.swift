// ProxyProtocolTests: listeners behind a proxy that sends a PROXY protocol header (issue 17). In process with
// hand-written v1 and v2 headers (the client address reaches Received:, the logs, relay_networks and the
// per-client cap; no header, a bad one or none in time closes the connection), a forged header on an ordinary
// listener is refused as a command, and end to end through a real HAProxy (send-proxy and send-proxy-v2)
// with clients bound to 127.0.0.5 and 127.0.0.6. The HAProxy test needs Debian's haproxy and python3.

import Foundation
import PostOfficeCore
import PostOfficeTesting
import Testing
@testable import PostOffice

@Suite struct ProxyProtocolTests {
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// A v2 PROXY header for TCP over IPv4 from `source`:`port` to 127.0.0.1:25, with one TLV after the addresses.
    static func v2Header(source: [UInt8], port: UInt16) -> [UInt8] {
        let tlv: [UInt8] = [0x04, 0x00, 0x02, 0x00, 0x00]  // PP2_TYPE_NOOP
        let block = source + [127, 0, 0, 1, UInt8(port >> 8), UInt8(port & 0xFF), 0, 25] + tlv
        return signature + [0x21, 0x11, 0, UInt8(block.count)] + block
    }

    static func office(
        listeners: Set<String> = ["smtp", "pop3"], log: CollectingLogSink = CollectingLogSink(),
        configure: (inout PostOfficeConfiguration) -> Void = { _ in }
    ) throws -> TestPostOffice {
        try TestPostOffice(users: ["alice@example.test": "secret"], logSink: log) { configuration in
            configuration.proxyProtocolListeners = listeners
            configure(&configuration)
        }
    }

    /// Connects, sends `header` and reads the greeting.
    static func proxiedClient(_ office: TestPostOffice, header: [UInt8]) throws -> SMTPTestClient {
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        try client.connection.send(header)
        let greeting = try client.readReply()
        #expect(greeting.code == 220, "\(greeting)")
        return client
    }

    static func waitForRecord(_ log: CollectingLogSink, _ event: String) -> LogRecord? {
        for _ in 0..<500 {
            if let record = log.records.first(where: { $0.event == event }) { return record }
            usleep(10_000)
        }
        return nil
    }

    @Test(arguments: [
        ("v1", Array("PROXY TCP4 192.0.2.7 127.0.0.1 40001 25\r\n".utf8)),
        ("v2", v2Header(source: [192, 0, 2, 7], port: 40001)),
    ])
    func headerAddressReachesReceivedAndLogs(_ name: String, _ header: [UInt8]) throws {
        let log = CollectingLogSink()
        let office = try Self.office(log: log)
        defer { office.stop() }
        let client = try Self.proxiedClient(office, header: header)
        #expect(try client.command("EHLO client.test").code == 250)
        #expect(try client.sendMail(from: "sender@example.net", to: ["alice@example.test"], body: "Subject: proxied\r\n\r\nhi\r\n").code == 250)
        _ = try? client.command("QUIT")
        let message = try office.waitForMessage(for: "alice@example.test")
        let received = message.components(separatedBy: "\n").first { $0.hasPrefix("Received:") } ?? ""
        #expect(message.contains("[192.0.2.7]"), "\(name): \(received)")
        #expect(!message.contains("[127.0.0.1]"), "\(name): the proxy's address leaked into \(received)")
        let connect = try #require(Self.waitForRecord(log, "smtp.connect"))
        #expect(connect.fields.contains { $0.0 == "peer" && $0.1 == "192.0.2.7:40001" }, "\(connect)")
        let proxy = try #require(Self.waitForRecord(log, "proxy.header"))
        #expect(proxy.fields.contains { $0.0 == "client" && $0.1 == "192.0.2.7:40001" }, "\(proxy)")
        #expect(proxy.fields.contains { $0.0 == "proxy" && $0.1.hasPrefix("127.0.0.1:") }, "\(proxy)")
        #expect(proxy.sessionID == connect.sessionID)
    }

    @Test func bytesAfterTheHeaderReachTheSession() throws {
        let office = try Self.office()
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        try client.connection.send(Array("PROXY TCP4 192.0.2.7 127.0.0.1 40001 25\r\nQUIT\r\n".utf8))
        #expect(try client.readReply().code == 220)
        #expect(try client.readReply().code == 221)
    }

    @Test func relayNetworksAndThePerClientCapUseTheHeaderAddress() throws {
        let office = try Self.office { configuration in
            configuration.relayNetworks = [NetworkRange("192.0.2.0/24")!]
            configuration.deliversOutbound = true
            configuration.limits.connectionsPerAddress = 1
            // Loopback counts too: were the proxy's 127.0.0.1 counted, the third client below would be refused.
            configuration.limits.limitsLoopbackConnections = true
        }
        defer { office.stop() }
        let inside = try Self.proxiedClient(office, header: Array("PROXY TCP4 192.0.2.7 127.0.0.1 40001 25\r\n".utf8))
        #expect(try inside.command("EHLO client.test").code == 250)
        #expect(try inside.command("MAIL FROM:<web@example.test>").code == 250)
        #expect(try inside.command("RCPT TO:<someone@remote.test>").code == 250)
        // The same client again: over connections_per_client (1).
        let again = try SMTPTestClient(connectingTo: office.smtpAddress)
        try again.connection.send(Array("PROXY TCP4 192.0.2.7 127.0.0.1 40002 25\r\n".utf8))
        let refused = try again.readReply()
        #expect(refused.code == 421, "\(refused)")
        // The registry counts the client the header named, not the proxy's socket address.
        let registry = office.server.context.io.registry
        #expect(registry.connectionCount(forClient: "127.0.0.1") == 0)
        #expect((1...2).contains(registry.connectionCount(forClient: "192.0.2.7")))
        // Another client through the same proxy: its own count, and outside relay_networks.
        let outside = try Self.proxiedClient(office, header: Array("PROXY TCP4 203.0.113.9 127.0.0.1 40003 25\r\n".utf8))
        #expect(try outside.command("EHLO client.test").code == 250)
        #expect(try outside.command("MAIL FROM:<someone@example.net>").code == 250)
        let relay = try outside.command("RCPT TO:<someone@remote.test>")
        #expect(relay.code == 554 || relay.code == 550, "\(relay)")
        _ = try? inside.command("RSET")
    }

    @Test func localCommandKeepsTheSocketAddress() throws {
        let log = CollectingLogSink()
        let office = try Self.office(log: log)
        defer { office.stop() }
        let client = try Self.proxiedClient(office, header: Self.signature + [0x20, 0x00, 0, 0])
        #expect(try client.command("QUIT").code == 221)
        let connect = try #require(Self.waitForRecord(log, "smtp.connect"))
        #expect(connect.fields.contains { $0.0 == "peer" && $0.1.hasPrefix("127.0.0.1:") }, "\(connect)")
    }

    @Test(arguments: [
        ("an SMTP command", "EHLO client.test\r\n", "no PROXY protocol header"),
        ("a bad v1 line", "PROXY TCP4 192.0.2.7 127.0.0.1 40001\r\n", "malformed PROXY v1 line"),
        ("a line too long", "PROXY UNKNOWN " + String(repeating: "x", count: 200), "longer than 107 bytes"),
    ])
    func connectionWithoutValidHeaderIsClosed(_ name: String, _ sent: String, _ reason: String) throws {
        let log = CollectingLogSink()
        let office = try Self.office(log: log)
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.smtpAddress)
        try client.send(sent)
        #expect(client.readToEnd().isEmpty, "\(name): the server said something before closing")
        let refused = try #require(Self.waitForRecord(log, "proxy.refused"))
        #expect(refused.fields.contains { $0.0 == "reason" && $0.1.contains(reason) }, "\(name): \(refused)")
        #expect(log.records.first { $0.event == "smtp.connect" } == nil)
    }

    @Test func healthCheckThatSendsNothingIsNotAnError() throws {
        let log = CollectingLogSink()
        let office = try Self.office(log: log)
        defer { office.stop() }
        let probe = try LineClient(connectingTo: office.smtpAddress)
        probe.abort()
        let closed = try #require(Self.waitForRecord(log, "proxy.closed_empty"))
        #expect(closed.fields.contains { $0.0 == "service" && $0.1 == "smtp" }, "\(closed)")
        #expect(log.records.first { $0.event == "proxy.refused" } == nil)
    }

    @Test func headerNotSentInTimeClosesTheConnection() throws {
        let log = CollectingLogSink()
        let office = try Self.office(log: log) { $0.proxyHeaderTimeoutSeconds = 1 }
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.pop3Address, timeoutSeconds: 30)
        try client.send("PROXY TCP4 192.0.2.7")  // and then nothing
        #expect(client.readToEnd().isEmpty)
        let refused = try #require(Self.waitForRecord(log, "proxy.refused"))
        #expect(refused.fields.contains { $0.0 == "reason" && $0.1.contains("within 1 s") }, "\(refused)")
        #expect(refused.fields.contains { $0.0 == "service" && $0.1 == "pop3" }, "\(refused)")
    }

    @Test func shutdownClosesConnectionsStillWaitingForTheirHeader() throws {
        let log = CollectingLogSink()
        let office = try Self.office(log: log) { $0.proxyHeaderTimeoutSeconds = 300 }
        let client = try LineClient(connectingTo: office.smtpAddress, timeoutSeconds: 30)
        try client.send("PROXY TCP4 ")
        let registry = office.server.context.io.registry
        for _ in 0..<500 where registry.count == 0 { usleep(10_000) }
        #expect(registry.count == 1)
        office.stop()
        #expect(client.readToEnd().isEmpty)
        let refused = try #require(Self.waitForRecord(log, "proxy.refused"))
        #expect(refused.fields.contains { $0.0 == "reason" && $0.1 == "server shutting down" }, "\(refused)")
    }

    @Test func proxiedPOP3SessionUsesTheHeaderAddress() throws {
        let log = CollectingLogSink()
        let office = try Self.office(log: log)
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.pop3Address)
        try client.send(Self.v2Header(source: [198, 51, 100, 23], port: 50000))
        #expect(try client.readLine().hasPrefix("+OK"))
        try client.sendLine("QUIT")
        #expect(try client.readLine().hasPrefix("+OK"))
        let connect = try #require(Self.waitForRecord(log, "pop3.connect"))
        #expect(connect.fields.contains { $0.0 == "peer" && $0.1 == "198.51.100.23:50000" }, "\(connect)")
    }

    /// On an implicit-TLS listener the header comes in the clear, before the handshake (as HAProxy sends it).
    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func headerPrecedesTheHandshakeOnImplicitTLS() throws {
        let log = CollectingLogSink()
        let office = try TestPostOffice(users: ["alice@example.test": "secret"], logSink: log, tls: true) {
            $0.proxyProtocolListeners = ["pop3s"]
        }
        defer { office.stop() }
        let address = try #require(office.pop3sAddress)
        let script = """
            import socket, ssl, sys
            raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
            raw.sendall(b'PROXY TCP4 192.0.2.9 127.0.0.1 40009 995\\r\\n')
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            secure = context.wrap_socket(raw, server_hostname='mx.test')
            print(secure.makefile('rb').readline().decode().strip())
            """
        let result = try ExternalTool.python(script, [String(address.port)])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.output.hasPrefix("+OK"), "\(result.output)")
        let connect = try #require(Self.waitForRecord(log, "pop3.connect"))
        #expect(connect.fields.contains { $0.0 == "peer" && $0.1 == "192.0.2.9:40009" }, "\(connect)")
        #expect(connect.fields.contains { $0.0 == "tls" && $0.1.hasPrefix("TLS") }, "\(connect)")
    }

    @Test func forgedHeaderOnOrdinaryListenerIsRefusedAsACommand() throws {
        let office = try Self.office(listeners: [])
        defer { office.stop() }
        let smtp = try SMTPTestClient(connectingTo: office.smtpAddress)
        #expect(try smtp.readReply().code == 220)
        let reply = try smtp.command("PROXY TCP4 192.0.2.7 127.0.0.1 40001 25")
        // The engine's reply to any unknown command (RFC 5321 §4.2.4: 500; 5.5.2, syntax error).
        #expect(reply.code == 500 && reply.enhancedCode == "5.5.2", "\(reply)")
        #expect(try smtp.command("EHLO client.test").code == 250)
        #expect(try smtp.sendMail(from: "sender@example.net", to: ["alice@example.test"], body: "Subject: direct\r\n\r\nhi\r\n").code == 250)
        let message = try office.waitForMessage(for: "alice@example.test")
        #expect(message.contains("[127.0.0.1]") && !message.contains("192.0.2.7"))
        let pop3 = try LineClient(connectingTo: office.pop3Address)
        #expect(try pop3.readLine().hasPrefix("+OK"))
        try pop3.sendLine("PROXY TCP4 192.0.2.7 127.0.0.1 40001 110")
        #expect(try pop3.readLine().hasPrefix("-ERR"))
    }

    @Test func configurationFileKeys() throws {
        let parsed = try ConfigurationFile.parse(
            """
            smtp_proxy_protocol = yes
            submissions_proxy_protocol = yes
            pop3_proxy_protocol = no
            proxy_protocol_timeout = 3
            """, fileName: "postoffice.conf", base: PostOfficeConfiguration(dataDirectory: "/tmp/unused"))
        #expect(parsed.proxyProtocolListeners == ["smtp", "submissions"])
        #expect(parsed.proxyHeaderTimeoutSeconds == 3)
        #expect(parsed.listenerSpecs.filter(\.expectsProxyHeader).map(\.name) == ["smtp"])
        #expect(throws: ConfigurationError.self) {
            try ConfigurationFile.parse(
                "proxy_protocol_timeout = 0", fileName: "postoffice.conf", base: PostOfficeConfiguration(dataDirectory: "/tmp/unused"))
        }
    }
}
