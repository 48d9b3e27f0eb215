// OpenSSLInteropTests: TLSSession over a real loopback socket against the openssl command-line tool, in both
// roles: our server with `openssl s_client` (verifying our self-signed certificate and host name), and our
// client with `openssl s_server -www`. Reported as skipped (the trait) when the openssl tool is missing.
import Foundation
import PostOfficeCore
import PostOfficeTLS
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(
    "Interoperability with the openssl tool", .serialized,
    .enabled(if: ExternalTool.isAvailable("openssl"), "openssl is not installed (apt-get install openssl)"))
struct OpenSSLInteropTests {
    static let hostName = "mail.example.test"

    @Test("openssl s_client talks to a TLSSession server", arguments: [
        ([String](), "TLSv1.3"),
        (["-tls1_2"], "TLSv1.2"),
        (["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"], "TLSv1.2"),
    ])
    func sClientToOurServer(options: [String], expectedVersion: String) throws {
        let openssl = try #require(ExternalTool.find("openssl"))
        let fixture = try CertificateFixture(keyType: .rsa2048, hostName: Self.hostName)
        let context = try fixture.serverContext()
        let (listener, port) = try #require(LoopbackSocket.listen())
        defer { close(listener) }

        let client = Process()
        client.executableURL = URL(fileURLWithPath: openssl)
        client.arguments = [
            "s_client", "-connect", "127.0.0.1:\(port)", "-quiet", "-servername", Self.hostName,
            "-CAfile", fixture.certificatePath, "-verify_return_error", "-verify_hostname", Self.hostName,
        ] + options
        let input = Pipe()
        let output = Pipe()
        client.standardInput = input
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { if client.isRunning { client.terminate() } }
        input.fileHandleForWriting.write(Data("EHLO client.example\n".utf8))
        try input.fileHandleForWriting.close()

        let connection = accept(listener, nil, nil)
        try #require(connection >= 0, "s_client never connected")
        LoopbackSocket.setTimeout(connection)
        let tls = TLSOverSocket(descriptor: connection, session: try TLSSession(context: context))
        try tls.handshake()
        #expect(tls.session.protocolVersion == expectedVersion)
        #expect(tls.session.requestedServerName == Self.hostName)
        try tls.write("220 \(Self.hostName) ESMTP ready\r\n")
        let line = try tls.readLine()
        #expect(line == "EHLO client.example")
        try tls.write("250 got \(line)\r\n")
        try tls.shutdown()
        tls.close()
        #expect(ExternalTool.waitForExit(client), "s_client should exit once the server closes")
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(printed.contains("220 \(Self.hostName) ESMTP ready"))
        #expect(printed.contains("250 got EHLO client.example"))
    }

    @Test("openssl s_client offering only TLS 1.1 is refused")
    func legacySClientRefused() throws {
        let openssl = try #require(ExternalTool.find("openssl"))
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let context = try fixture.serverContext()
        let (listener, port) = try #require(LoopbackSocket.listen())
        defer { close(listener) }
        let client = Process()
        client.executableURL = URL(fileURLWithPath: openssl)
        client.arguments = [
            "s_client", "-connect", "127.0.0.1:\(port)", "-quiet", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0",
        ]
        client.standardInput = FileHandle.nullDevice
        client.standardOutput = FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { if client.isRunning { client.terminate() } }

        let connection = accept(listener, nil, nil)
        try #require(connection >= 0, "s_client never connected")
        LoopbackSocket.setTimeout(connection)
        let tls = TLSOverSocket(descriptor: connection, session: try TLSSession(context: context))
        let error = capture { try tls.handshake() }
        #expect(error?.kind == .handshake)
        #expect(error?.messages.contains { $0.contains("unsupported protocol") } == true)
        tls.close()
        #expect(ExternalTool.waitForExit(client))
        #expect(client.terminationStatus != 0)
    }

    @Test("a TLSSession client talks to openssl s_server", arguments: [nil, TLSProtocolVersion.tls12])
    func ourClientToSServer(maximumVersion: TLSProtocolVersion?) throws {
        let openssl = try #require(ExternalTool.find("openssl"))
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let port = try #require(LoopbackSocket.freePort())
        let server = Process()
        server.executableURL = URL(fileURLWithPath: openssl)
        server.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", fixture.certificatePath,
            "-key", fixture.privateKeyPath, "-naccept", "1", "-www", "-quiet",
        ]
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        let descriptor = try #require(LoopbackSocket.connect(port: port), "s_server never listened")
        let context = try TLSContext.makeClient(
            verifyingPeer: true, maximumVersion: maximumVersion, trustedCertificatesPath: fixture.certificatePath
        )
        let tls = TLSOverSocket(
            descriptor: descriptor, session: try TLSSession(context: context, serverName: Self.hostName)
        )
        try tls.handshake()
        let expectedVersion = maximumVersion == .tls12 ? "TLSv1.2" : "TLSv1.3"
        #expect(tls.session.protocolVersion == expectedVersion)
        try tls.write("GET / HTTP/1.0\r\n\r\n")
        let page = try tls.readToEnd()
        #expect(page.hasPrefix("HTTP/1.0 200 ok"))
        #expect(page.contains(expectedVersion))
        // s_server exits after its one connection ends, so close ours before waiting.
        try tls.shutdown()
        tls.close()
        #expect(ExternalTool.waitForExit(server), "s_server -naccept 1 should exit after one connection")
        #expect(server.terminationStatus == 0)
    }
}
