// OutboundConnectorTests: outbound TCP on the event loop against real loopback sockets — IPv4 and IPv6, a
// refused port, a source address the server sees, a connect that times out against a full accept queue —
// and a client TLS handshake over the resulting Connection against `openssl s_server` on 127.0.0.2.

import Dispatch
import Foundation
import PostOfficeCore
import PostOfficeTLS
import Testing

@testable import PostOffice

@Suite("Outbound connections", .serialized)
struct OutboundConnectorTests {
    typealias Failure = OutboundConnector.Failure

    // MARK: - Helpers

    /// A plain listening socket on a loopback address, with a kernel-chosen port.
    final class TestListener {
        let fd: Int32
        let address: SocketAddress

        init(host: String = "127.0.0.1", backlog: Int32 = 16, listens: Bool = true) throws {
            let family = host.contains(":") ? AF_INET6 : AF_INET
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            try #require(fd >= 0)
            let bound = SocketAddress(host: host, port: 0).withSockAddr { bind(fd, $0, $1) }
            try #require(bound == 0, "bind \(host): errno \(errno)")
            if listens { try #require(listen(fd, backlog) == 0) }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            try #require(named == 0)
            address = try #require(SocketAddress(storage: &storage))
        }

        deinit { close(fd) }

        /// Accepts one connection, waiting at most 20 seconds; returns its descriptor and peer address.
        func accept() throws -> (fd: Int32, peer: SocketAddress) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            try #require(poll(&poller, 1, 20_000) == 1, "nobody connected")
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &length) }
            }
            try #require(client >= 0)
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return (client, try #require(SocketAddress(storage: &storage)))
        }
    }

    /// Records what a Connection tells its handler, and lets the test wait for it.
    final class Recorder: ConnectionHandler, @unchecked Sendable {
        enum Event: Equatable {
            case opened, secured, tlsFailed(String), closed
        }

        let box = LockedBox<(events: [Event], received: [UInt8])>(([], []))
        private let changed = DispatchSemaphore(value: 0)
        /// Runs on the loop when the connection opens and when TLS is up.
        var onOpened: (Connection) -> Void = { _ in }
        var onSecured: (Connection) -> Void = { _ in }

        private func record(_ event: Event) {
            box.update { $0.events.append(event) }
            changed.signal()
        }

        func connectionOpened(_ connection: Connection) {
            record(.opened)
            onOpened(connection)
        }

        func connection(_ connection: Connection, received bytes: [UInt8]) {
            box.update { $0.received += bytes }
            changed.signal()
        }

        func connectionDrained(_ connection: Connection) {}
        func connectionTimedOut(_ connection: Connection) {}
        func connectionShutdownRequested(_ connection: Connection) {}

        func connectionSecured(_ connection: Connection) {
            record(.secured)
            onSecured(connection)
        }

        func connectionTLSFailed(_ connection: Connection, reason: String) { record(.tlsFailed(reason)) }
        func connectionClosed(_ connection: Connection) { record(.closed) }

        var text: String { String(decoding: box.value.received, as: UTF8.self) }

        /// Waits (at most 20 seconds) until `condition` holds for what was recorded.
        @discardableResult
        func wait(until condition: (_ events: [Event], _ text: String) -> Bool) -> Bool {
            for _ in 0..<400 {
                let (events, received) = box.value
                if condition(events, String(decoding: received, as: UTF8.self)) { return true }
                _ = changed.wait(timeout: .now() + .milliseconds(50))
            }
            return false
        }
    }

    /// Runs one connect and waits for its completion.
    func connect(
        _ connector: OutboundConnector, to remote: SocketAddress, from source: SocketAddress? = nil,
        timeoutMilliseconds: Int = 10_000
    ) throws -> Result<Connection, Failure> {
        let outcome = LockedBox<Result<Connection, Failure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        connector.connect(to: remote, from: source, timeoutMilliseconds: timeoutMilliseconds, id: "out-test") {
            result in
            outcome.update { $0 = result }
            done.signal()
        }
        try #require(done.wait(timeout: .now() + 30) == .success, "the completion never ran")
        return try #require(outcome.value)
    }

    static let hasIPv6Loopback: Bool = {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return SocketAddress(host: "::1", port: 0).withSockAddr { bind(fd, $0, $1) } == 0
    }()

    /// Connects to a listener on `host`, then moves a line each way through the Connection.
    func roundTrip(host: String) throws {
        let loop = try EventLoop(name: "out-test")
        loop.start()
        defer { loop.shutdown() }
        let listener = try TestListener(host: host)
        let connection = try connect(OutboundConnector(loop: loop), to: listener.address).get()
        #expect(connection.peer == listener.address)
        #expect(connection.local.host == host)
        let (server, accepted) = try listener.accept()
        defer { close(server) }
        #expect(accepted == connection.local, "the server sees the client's own address and port")

        let recorder = Recorder()
        loop.execute {
            connection.handler = recorder
            connection.start()
        }
        _ = "220 ready\r\n".withCString { send(server, $0, 11, 0) }
        #expect(recorder.wait { _, text in text == "220 ready\r\n" })
        loop.execute { connection.send(Array("EHLO client\r\n".utf8)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.last != UInt8(ascii: "\n"), recv(server, &byte, 1, 0) == 1 { line.append(byte) }
        #expect(String(decoding: line, as: UTF8.self) == "EHLO client\r\n")
        shutdown(server, Int32(SHUT_RDWR))
        #expect(recorder.wait { events, _ in events == [.opened, .closed] })
    }

    // MARK: - Tests

    @Test("connects over IPv4 loopback; the Connection carries data both ways")
    func ipv4() throws {
        try roundTrip(host: "127.0.0.1")
    }

    @Test(
        "connects over IPv6 loopback", .enabled(if: OutboundConnectorTests.hasIPv6Loopback, "this machine has no IPv6 loopback (::1)"))
    func ipv6() throws {
        try roundTrip(host: "::1")
    }

    @Test("a port nobody listens on is refused")
    func refused() throws {
        let loop = try EventLoop(name: "out-refused")
        loop.start()
        defer { loop.shutdown() }
        // Bound but not listening: the port stays ours (no other test can take it) and answers SYN with RST.
        let closedPort = try TestListener(listens: false)
        let result = try connect(OutboundConnector(loop: loop), to: closedPort.address)
        guard case .failure(let failure) = result else {
            Issue.record("connected to a port with no listener")
            return
        }
        #expect(failure.kind == .refused)
        #expect(failure.errno == ECONNREFUSED)
        #expect(failure.description.contains("refused"))
        #expect(failure.description.contains("Connection refused"), "errno text: \(failure)")
    }

    @Test("the source address is what the server sees as the peer")
    func sourceAddress() throws {
        let loop = try EventLoop(name: "out-source")
        loop.start()
        defer { loop.shutdown() }
        let listener = try TestListener()
        let source = SocketAddress(host: "127.0.0.3", port: 0)
        let connection = try connect(OutboundConnector(loop: loop), to: listener.address, from: source).get()
        let (server, accepted) = try listener.accept()
        defer { close(server) }
        #expect(accepted.host == "127.0.0.3")
        #expect(connection.local == accepted)
        loop.execute { connection.close() }
    }

    @Test("a source address of the other family fails before any packet is sent")
    func sourceFamilyMismatch() throws {
        let loop = try EventLoop(name: "out-family")
        loop.start()
        defer { loop.shutdown() }
        let listener = try TestListener()
        let result = try connect(
            OutboundConnector(loop: loop), to: listener.address, from: SocketAddress(host: "::1", port: 0))
        guard case .failure(let failure) = result else {
            Issue.record("connected from an IPv6 source to an IPv4 address")
            return
        }
        #expect(failure.kind == .sourceAddress)
    }

    /// Linux drops a SYN while the listener's accept queue is full (it neither answers nor resets, unless
    /// `tcp_abort_on_overflow` is set), so the connect stays in SYN_SENT and the connector's timer fires.
    /// Backlog 0 admits one un-accepted connection; two fillers make sure the queue is full.
    @Test("a connect that gets no answer times out")
    func timesOut() throws {
        let loop = try EventLoop(name: "out-timeout")
        loop.start()
        defer { loop.shutdown() }
        let listener = try TestListener(backlog: 0)
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<2 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = listener.address.withSockAddr { Glibc.connect(filler, $0, $1) }
            fillers.append(filler)
        }
        let result = try connect(OutboundConnector(loop: loop), to: listener.address, timeoutMilliseconds: 200)
        guard case .failure(let failure) = result else {
            Issue.record("connected although the accept queue was full (tcp_abort_on_overflow or a changed kernel?)")
            return
        }
        #expect(failure.kind == .timedOut)
        #expect(failure.description.contains("timed out"))
    }

    /// Connect completions run inside loop tasks and timers, and typically call `start()`, which queues a task
    /// on the loop. Such a task must run without waiting for an unrelated event (it used to wait forever on an
    /// idle loop, or until the next timer).
    @Test("a task queued on the loop by a loop task runs without another event")
    func nestedTask() throws {
        let loop = try EventLoop(name: "out-nested")
        loop.start()
        defer { loop.shutdown() }
        let ran = DispatchSemaphore(value: 0)
        loop.execute { loop.execute { ran.signal() } }
        #expect(ran.wait(timeout: .now() + 20) == .success)
    }

    @Test("errno values map to failure kinds", arguments: [
        ("connect", ECONNREFUSED, Failure.Kind.refused), ("connect", ETIMEDOUT, .timedOut),
        ("connect", ENETUNREACH, .unreachable), ("connect", EHOSTUNREACH, .unreachable),
        ("bind", EADDRNOTAVAIL, .sourceAddress), ("socket", EMFILE, .other),
    ])
    func errnoKinds(call: String, code: Int32, kind: Failure.Kind) {
        let failure = Failure(call: call, errno: code, remote: SocketAddress(host: "127.0.0.1", port: 25))
        #expect(failure.kind == kind)
        #expect(failure.description.hasPrefix("connect to 127.0.0.1:25 "))
    }

    // MARK: - Client TLS over a real socket

    static let hostName = "mail.example.test"

    /// Our Connection as a TLS client of `openssl s_server -www` on 127.0.0.2: the handshake starts from
    /// `startClientTLS` (the ClientHello is written first), then an HTTP request goes through `send`.
    @Test(
        "a client Connection handshakes with openssl s_server and verifies its name",
        .enabled(if: ExternalTool.path("openssl") != nil, "openssl is not installed (apt-get install openssl)"),
        arguments: [OutboundConnectorTests.hostName, "other.example.test"])
    func clientTLS(serverName: String) throws {
        let openssl = try #require(ExternalTool.path("openssl"))
        let directory = try LiveTestSupport.temporaryDirectory("outbound-tls")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = try SelfSignedCertificate.generate(
            hostName: Self.hostName, clock: SystemClock(), random: SeededRandomSource(seed: 12))
        let certificatePath = directory + "/certificate.pem"
        try certificate.write(certificatePath: certificatePath, privateKeyPath: directory + "/key.pem")
        let port = try TestListener(host: "127.0.0.2", listens: false).address.port  // free, then released

        let server = Process()
        server.executableURL = URL(fileURLWithPath: openssl)
        server.arguments = [
            "s_server", "-accept", "127.0.0.2:\(port)", "-naccept", "1", "-www", "-quiet",
            "-cert", certificatePath, "-key", directory + "/key.pem",
        ]
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        let loop = try EventLoop(name: "out-tls")
        loop.start()
        defer { loop.shutdown() }
        let connector = OutboundConnector(loop: loop)
        let remote = SocketAddress(host: "127.0.0.2", port: port)
        var result = try connect(connector, to: remote)
        // s_server needs a moment to listen; until then the port refuses.
        for _ in 0..<100 {
            guard case .failure(let failure) = result, failure.kind == .refused else { break }
            usleep(100_000)
            result = try connect(connector, to: remote)
        }
        let connection = try result.get()

        let context = try TLSContext(client: TLSClientConfiguration(trustedCertificatesPath: certificatePath))
        let recorder = Recorder()
        recorder.onOpened = { $0.startClientTLS(context: context, serverName: serverName) }
        recorder.onSecured = { $0.send(Array("GET / HTTP/1.0\r\n\r\n".utf8)) }
        loop.execute {
            connection.handler = recorder
            connection.start()
        }
        #expect(recorder.wait { events, _ in events.last == .closed })
        let events = recorder.box.value.events
        if serverName == Self.hostName {
            #expect(events == [.opened, .secured, .closed])
            #expect(recorder.text.hasPrefix("HTTP/1.0 200 ok"))
            #expect(connection.tlsDescription?.hasPrefix("TLSv1.3") == true)
        } else {
            guard case .tlsFailed(let reason) = events.dropFirst().first else {
                Issue.record("expected a TLS failure, got \(events)")
                return
            }
            #expect(reason.contains("certificate verify failed: hostname mismatch"))
            #expect(connection.tlsError?.certificateVerification?.reason == .hostnameMismatch)
        }
        #expect(connection.isClosed)
        server.terminate()
        server.waitUntilExit()
    }
}
