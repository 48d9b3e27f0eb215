// HAProxyLiveTests: PostOffice behind a real HAProxy (Debian's haproxy) that forwards to an SMTP listener with
// `smtp_proxy_protocol = yes`, once with `send-proxy` (v1) and once with `send-proxy-v2`. Python clients
// bound to 127.0.0.5 and 127.0.0.6 go through it: the Received: header names 127.0.0.5, and the per-client
// cap counts 127.0.0.5, not HAProxy's own 127.0.0.1.

import Foundation
import PostOfficeCore
import PostOfficeTesting
import Testing
@testable import PostOffice

/// An HAProxy in the foreground (`-db`) with two TCP frontends on loopback ports, killed on deinit.
final class HAProxyServer: @unchecked Sendable {
    static var isInstalled: Bool { ExternalTool.path("haproxy") != nil }

    let version1Port: Int
    let version2Port: Int
    private let process = Process()
    private let directory: String

    init(backend: SocketAddress) throws {
        directory = try LiveTestSupport.temporaryDirectory("haproxy")
        version1Port = try Self.freePort()
        version2Port = try Self.freePort()
        let configuration = """
            global
                maxconn 200
            defaults
                mode tcp
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend smtp_v1
                bind 127.0.0.1:\(version1Port)
                default_backend postoffice_v1
            backend postoffice_v1
                server s1 \(backend) send-proxy
            frontend smtp_v2
                bind 127.0.0.1:\(version2Port)
                default_backend postoffice_v2
            backend postoffice_v2
                server s1 \(backend) send-proxy-v2

            """
        let path = directory + "/haproxy.cfg"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: ExternalTool.path("haproxy")!)
        process.arguments = ["-db", "-f", path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        do {
            try waitUntilListening()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    func stop() {
        // SIGKILL, not terminate(): the child inherits the test runner's signal mask, where SIGTERM is blocked.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Connects to both frontends until they accept (HAProxy binds within milliseconds; allow ten seconds).
    private func waitUntilListening() throws {
        for _ in 0..<100 {
            guard process.isRunning else { break }
            let ready = [version1Port, version2Port].allSatisfy { port in
                (try? LineClient(connectingTo: SocketAddress(host: "127.0.0.1", port: port))) != nil
            }
            if ready { return }
            usleep(100_000)
        }
        throw TestClientError("haproxy did not listen on 127.0.0.1:\(version1Port) and :\(version2Port)")
    }

    /// A TCP port free on 127.0.0.1 now (the kernel picks it; HAProxy binds it right after).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let bound = SocketAddress(host: "127.0.0.1", port: 0).withSockAddr { bind(fd, $0, $1) }
        guard fd >= 0, bound == 0 else { throw TestClientError("cannot bind a free port") }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

@Suite struct HAProxyLiveTests {
    /// First the per-client cap (one connection from 127.0.0.5 held, a second refused, 127.0.0.6 served),
    /// then one message through each frontend, retried while the server has not yet seen the held ones close.
    static let clientScript = """
        import json, smtplib, socket, sys, time
        v1, v2 = int(sys.argv[1]), int(sys.argv[2])
        def greeting(source, port):
            connection = socket.create_connection(('127.0.0.1', port), timeout=10, source_address=(source, 0))
            return connection, connection.makefile('rb').readline().decode().strip()
        held, first = greeting('127.0.0.5', v1)
        refused, second = greeting('127.0.0.5', v2)
        other, third = greeting('127.0.0.6', v1)
        for connection in (held, refused, other):
            connection.close()
        for name, port in (('v1', v1), ('v2', v2)):
            for attempt in range(100):
                try:
                    client = smtplib.SMTP('127.0.0.1', port, local_hostname='client.example.net',
                                          source_address=('127.0.0.5', 0))
                    break
                except smtplib.SMTPConnectError:
                    time.sleep(0.1)
            refusals = client.sendmail('sender@example.net', ['alice@example.test'],
                                       ('Subject: through haproxy %s\\r\\n\\r\\nhello\\r\\n' % name).encode())
            assert refusals == {}, refusals
            client.quit()
        print(json.dumps({'first': first, 'second': second, 'third': third}))
        """

    @Test(.enabled(if: HAProxyServer.isInstalled && ExternalTool.path("python3") != nil, "haproxy or python3 is not installed"))
    func clientAddressComesThroughHAProxy() throws {
        let log = CollectingLogSink()
        let office = try TestPostOffice(users: ["alice@example.test": "secret"], logSink: log) { configuration in
            configuration.proxyProtocolListeners = ["smtp"]
            configuration.limits.connectionsPerAddress = 1
            // HAProxy connects from 127.0.0.1: were its address counted, 127.0.0.6 would be refused too.
            configuration.limits.limitsLoopbackConnections = true
        }
        defer { office.stop() }
        let haproxy = try HAProxyServer(backend: office.smtpAddress)
        defer { haproxy.stop() }
        let result = try ExternalTool.python(Self.clientScript, [String(haproxy.version1Port), String(haproxy.version2Port)])
        #expect(result.status == 0, "\(result.errorOutput)")
        let replies = try #require(
            try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: String], "\(result.output)")
        #expect(replies["first"]?.hasPrefix("220") == true, "\(replies)")
        #expect(replies["second"]?.hasPrefix("421") == true, "\(replies)")
        #expect(replies["third"]?.hasPrefix("220") == true, "\(replies)")
        _ = try office.waitForMessage(for: "alice@example.test", count: 2)
        let messages = office.messages(for: "alice@example.test")
        for message in messages {
            let received = message.components(separatedBy: "\n").prefix { !$0.isEmpty }.filter { $0.hasPrefix("Received:") || $0.hasPrefix(" ") || $0.hasPrefix("\t") }
            #expect(message.contains("[127.0.0.5]"), "\(received)")
        }
        #expect(messages.contains { $0.contains("through haproxy v1") } && messages.contains { $0.contains("through haproxy v2") })
        let versions = Set(log.records.filter { $0.event == "proxy.header" }
            .filter { $0.fields.contains { $0.0 == "client" && $0.1.hasPrefix("127.0.0.5:") } }
            .compactMap { record in record.fields.first { $0.0 == "version" }?.1 })
        #expect(versions == ["1", "2"], "\(versions)")
    }
}
