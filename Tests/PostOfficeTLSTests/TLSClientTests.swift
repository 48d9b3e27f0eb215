// TLSClientTests: the public client API (TLSClientConfiguration, TLSContext(client:)) against our own server
// sessions in memory and against `openssl s_server` on 127.0.0.2: verification by trust anchor and host name,
// the typed verify result in failures, verification off, and the server_name extension the server sees.
import Foundation
import PostOfficeCore
import PostOfficeTLS
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("TLS client")
struct TLSClientTests {
    static let hostName = "mail.example.test"

    private func handshake(
        _ fixture: CertificateFixture, _ configuration: TLSClientConfiguration, serverName: String?
    ) throws -> (client: TLSSession, server: TLSSession, outcome: InMemoryWire.Outcome) {
        let server = try TLSSession(context: fixture.serverContext())
        let client = try TLSSession(context: TLSContext(client: configuration), serverName: serverName)
        let outcome = InMemoryWire(client: client, server: server).handshake()
        return (client, server, outcome)
    }

    @Test("with the right trust anchor and name the handshake completes and the server sees SNI")
    func verified() throws {
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let configuration = TLSClientConfiguration(trustedCertificatesPath: fixture.certificatePath)
        let (client, server, outcome) = try handshake(fixture, configuration, serverName: Self.hostName)
        #expect(outcome.client == .complete)
        #expect(outcome.server == .complete)
        #expect(server.requestedServerName == Self.hostName)
        #expect(client.certificateVerificationFailure == nil)
        #expect(client.protocolVersion == "TLSv1.3")
        let wire = InMemoryWire(client: client, server: server)
        #expect(try wire.transfer(Array("EHLO a\r\n".utf8), from: client, to: server) == Array("EHLO a\r\n".utf8))
    }

    @Test("a certificate for another name fails with a typed hostname mismatch")
    func wrongName() throws {
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let configuration = TLSClientConfiguration(trustedCertificatesPath: fixture.certificatePath)
        let (client, _, outcome) = try handshake(fixture, configuration, serverName: "other.example.test")
        let error = try #require(outcome.client.failure)
        #expect(error.kind == .handshake)
        #expect(error.certificateVerification?.reason == .hostnameMismatch)
        #expect(error.description.contains("certificate verify failed: hostname mismatch"))
        #expect(client.certificateVerificationFailure?.reason == .hostnameMismatch)
        #expect(outcome.server.failure?.kind == .handshake, "the client's alert ends the server's handshake")
    }

    @Test("a certificate from an untrusted issuer fails as untrusted")
    func untrustedIssuer() throws {
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let stranger = try CertificateFixture(hostName: Self.hostName)
        let configuration = TLSClientConfiguration(trustedCertificatesPath: stranger.certificatePath)
        let (_, _, outcome) = try handshake(fixture, configuration, serverName: Self.hostName)
        let error = try #require(outcome.client.failure)
        #expect(error.certificateVerification?.reason == .untrusted)
        #expect(error.description.contains("certificate verify failed: self-signed certificate"))
    }

    @Test("with verification off the handshake completes and still reports what failed", arguments: [
        (true, "other.example.test", TLSCertificateVerificationFailure.Reason.hostnameMismatch),
        (false, TLSClientTests.hostName, .untrusted),
    ])
    func verificationOff(trustsServer: Bool, serverName: String, expected: TLSCertificateVerificationFailure.Reason)
        throws
    {
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let stranger = try CertificateFixture()
        let configuration = TLSClientConfiguration(
            trustedCertificatesPath: trustsServer ? fixture.certificatePath : stranger.certificatePath,
            verifiesPeer: false
        )
        let (client, server, outcome) = try handshake(fixture, configuration, serverName: serverName)
        #expect(outcome.client == .complete)
        #expect(outcome.server == .complete)
        #expect(server.requestedServerName == serverName)
        #expect(client.certificateVerificationFailure?.reason == expected)
    }

    @Test("an address literal is verified against an IP subjectAltName and never sent as SNI")
    func addressLiteral() throws {
        let fixture = try CertificateFixture(hostName: "127.0.0.2")
        let configuration = TLSClientConfiguration(trustedCertificatesPath: fixture.certificatePath)
        let (client, server, outcome) = try handshake(fixture, configuration, serverName: "127.0.0.2")
        #expect(outcome.client == .complete)
        #expect(server.requestedServerName == nil)
        #expect(client.certificateVerificationFailure == nil)
        let (_, _, wrong) = try handshake(fixture, configuration, serverName: "127.0.0.3")
        #expect(wrong.client.failure?.certificateVerification?.reason == .hostnameMismatch)
    }

    @Test("a fully qualified name with a trailing dot matches, and goes out as SNI without the dot")
    func trailingDot() throws {
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let configuration = TLSClientConfiguration(trustedCertificatesPath: fixture.certificatePath)
        let (_, server, outcome) = try handshake(fixture, configuration, serverName: Self.hostName + ".")
        #expect(outcome.client == .complete)
        #expect(server.requestedServerName == Self.hostName)
    }

    @Test("a client context refuses a floor below TLS 1.2 and an inverted range")
    func versionFloor() {
        let legacy = capture { try TLSContext(client: TLSClientConfiguration(minimumVersion: .tls11)) }
        #expect(legacy?.kind == .invalidConfiguration)
        let inverted = capture {
            try TLSContext(client: TLSClientConfiguration(minimumVersion: .tls13, maximumVersion: .tls12))
        }
        #expect(inverted?.kind == .invalidConfiguration)
    }

    @Test("a missing trust anchor file is a certificate error when verifying")
    func missingAnchors() {
        let configuration = TLSClientConfiguration(trustedCertificatesPath: "/nonexistent/postoffice-ca.pem")
        #expect(capture { try TLSContext(client: configuration) }?.kind == .certificate)
    }

    @Test("the system trust store loads, and does not vouch for a self-signed certificate")
    func systemStore() throws {
        let fixture = try CertificateFixture(hostName: Self.hostName)
        let context = try TLSContext(client: TLSClientConfiguration())
        #expect(context.role == .client)
        #expect(context.clientConfiguration == TLSClientConfiguration())
        let server = try TLSSession(context: fixture.serverContext())
        let client = try TLSSession(context: context, serverName: Self.hostName)
        let outcome = InMemoryWire(client: client, server: server).handshake()
        #expect(outcome.client.failure?.certificateVerification?.reason == .untrusted)
    }

    /// `openssl s_server` on 127.0.0.2 presents `mail.example.test` only to a client that sends that name as
    /// SNI (`-servername`/`-cert2`), and a default certificate otherwise; the client trusts only the former.
    @Test(
        "against openssl s_server the name sent as SNI selects the certificate",
        .enabled(if: ExternalTool.isAvailable("openssl"), "openssl is not installed (apt-get install openssl)"),
        arguments: [(TLSClientTests.hostName, true), ("default.example.test", false)])
    func sServerSNI(serverName: String, accepted: Bool) throws {
        let openssl = try #require(ExternalTool.find("openssl"))
        let fallback = try CertificateFixture(hostName: "default.example.test")
        let named = try CertificateFixture(hostName: Self.hostName)
        let port = try #require(LoopbackSocket.freePort(host: "127.0.0.2"))
        let server = Process()
        server.executableURL = URL(fileURLWithPath: openssl)
        server.arguments = [
            "s_server", "-accept", "127.0.0.2:\(port)", "-naccept", "1", "-www", "-quiet",
            "-cert", fallback.certificatePath, "-key", fallback.privateKeyPath,
            "-servername", Self.hostName, "-cert2", named.certificatePath, "-key2", named.privateKeyPath,
        ]
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        let descriptor = try #require(LoopbackSocket.connect(host: "127.0.0.2", port: port), "s_server never listened")
        let context = try TLSContext(client: TLSClientConfiguration(trustedCertificatesPath: named.certificatePath))
        let tls = TLSOverSocket(descriptor: descriptor, session: try TLSSession(context: context, serverName: serverName))
        if accepted {
            try tls.handshake()
            try tls.write("GET / HTTP/1.0\r\n\r\n")
            let page = try tls.readToEnd()
            #expect(page.hasPrefix("HTTP/1.0 200 ok"))
            try tls.shutdown()
        } else {
            let error = capture { try tls.handshake() }
            #expect(error?.certificateVerification?.reason == .untrusted)
        }
        tls.close()
        #expect(ExternalTool.waitForExit(server), "s_server -naccept 1 should exit after one connection")
    }
}
