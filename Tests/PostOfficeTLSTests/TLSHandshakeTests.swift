// TLSHandshakeTests: in-memory handshakes between a client and a server TLSSession: versions, ciphers,
// drip-fed bytes, legacy clients, garbage ClientHellos and certificate verification.
import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeTLS

@Suite("TLS handshakes in memory")
struct TLSHandshakeTests {
    @Test("default negotiation is TLS 1.3", arguments: SelfSignedCertificate.KeyType.allCases, [false, true])
    func defaultIsTLS13(keyType: SelfSignedCertificate.KeyType, dripFeed: Bool) throws {
        let fixture = try CertificateFixture(keyType: keyType)
        let server = try TLSSession(context: fixture.serverContext())
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false))
        let outcome = InMemoryWire(client: client, server: server, dripFeed: dripFeed).handshake()
        #expect(outcome.client == .complete)
        #expect(outcome.server == .complete)
        #expect(server.isEstablished && client.isEstablished)
        #expect(server.protocolVersion == "TLSv1.3")
        #expect(client.protocolVersion == "TLSv1.3")
        #expect(server.cipherName == "TLS_AES_256_GCM_SHA384")
        #expect(server.cipherBits == 256)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test("a client capped at TLS 1.2 gets TLS 1.2 with an ECDHE AEAD cipher",
          arguments: SelfSignedCertificate.KeyType.allCases)
    func clientMaximumTLS12(keyType: SelfSignedCertificate.KeyType) throws {
        let fixture = try CertificateFixture(keyType: keyType)
        let server = try TLSSession(context: fixture.serverContext())
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false, maximumVersion: .tls12))
        let outcome = InMemoryWire(client: client, server: server, dripFeed: true).handshake()
        #expect(outcome.server == .complete)
        #expect(outcome.client == .complete)
        #expect(server.protocolVersion == "TLSv1.2")
        let cipher = try #require(server.cipherName)
        let expectedPrefix = keyType == .rsa2048 ? "ECDHE-RSA-" : "ECDHE-ECDSA-"
        #expect(cipher.hasPrefix(expectedPrefix))
        #expect(TLSConfiguration.defaultCipherList.split(separator: ":").contains(Substring(cipher)))
        #expect((server.cipherBits ?? 0) >= 128)
    }

    @Test("legacy-only clients are refused with a typed handshake error", arguments: [
        (TLSProtocolVersion.tls10, TLSProtocolVersion.tls10),
        (TLSProtocolVersion.tls10, TLSProtocolVersion.tls11),
        (TLSProtocolVersion.tls11, TLSProtocolVersion.tls11),
    ])
    func legacyClientRefused(minimum: TLSProtocolVersion, maximum: TLSProtocolVersion) throws {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        let clientContext = try TLSContext.makeClient(
            verifyingPeer: false, minimumVersion: minimum, maximumVersion: maximum
        )
        let client = try TLSSession(context: clientContext)
        let outcome = InMemoryWire(client: client, server: server).handshake()
        let serverError = try #require(outcome.server.failure)
        #expect(serverError.kind == .handshake)
        #expect(serverError.operation == "SSL_do_handshake")
        #expect(serverError.messages.contains { $0.contains("unsupported protocol") })
        // The server's protocol_version alert reached the client, which fails too.
        let clientError = try #require(outcome.client.failure)
        #expect(clientError.kind == .handshake)
        #expect(server.protocolVersion == nil)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test("a TLS 1.3-only server refuses a TLS 1.2 client")
    func tls13OnlyServer() throws {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext(minimumVersion: .tls13))
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false, maximumVersion: .tls12))
        let outcome = InMemoryWire(client: client, server: server).handshake()
        #expect(outcome.server.failure?.kind == .handshake)
        #expect(outcome.client.failure?.kind == .handshake)
    }

    static let garbageClientHellos: [(String, [UInt8])] = [
        ("SMTP command", Array("EHLO client.example\r\n".utf8)),
        ("HTTP request", Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        ("zeros", [UInt8](repeating: 0, count: 64)),
        ("alert record", [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
        ("handshake record with nonsense body", [0x16, 0x03, 0x01, 0x00, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ("oversized record length", [0x16, 0x03, 0x01, 0xFF, 0xFF] + [UInt8](repeating: 0x41, count: 32)),
        ("SSLv2-style hello", [0x80, 0x2E, 0x01, 0x00, 0x02] + [UInt8](repeating: 0, count: 45)),
        ("pseudo-random", (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }),
    ]

    @Test("garbage instead of a ClientHello fails cleanly", arguments: garbageClientHellos)
    func garbageClientHello(label: String, bytes: [UInt8]) throws {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        server.receiveFromNetwork(bytes)
        let error = try #require(server.handshake().failure, "\(label) should fail the handshake")
        #expect(error.kind == .handshake)
        #expect(!error.messages.isEmpty)
        #expect(OpenSSLErrorQueue.isEmpty)
        // Failure is sticky and every other call reports it instead of touching OpenSSL again.
        #expect(server.handshake() == .failed(error))
        var buffer: [UInt8] = []
        #expect(capture { try server.readPlaintext(into: &buffer) } == error)
        #expect(capture { try server.writePlaintext([1, 2, 3]) } == error)
        server.receiveFromNetwork([0x16, 0x03, 0x01])
        #expect(server.handshake() == .failed(error))
        #expect(server.protocolVersion == nil && server.cipherName == nil && server.cipherBits == nil)
    }

    @Test("mutated and truncated real ClientHellos never crash the server", arguments: [1, 2, 3])
    func mutatedClientHellos(seed: UInt64) throws {
        let fixture = try CertificateFixture()
        let context = try fixture.serverContext()
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false))
        _ = client.handshake()
        let hello = client.takeNetworkOutput()
        try #require(hello.count > 100)
        let random = SeededRandomSource(seed: seed)
        var outcomes: [String: Int] = [:]
        for _ in 0..<150 {
            var bytes = hello
            let mutations = Int(random.next() % 4) + 1
            for _ in 0..<mutations {
                let index = Int(random.next() % UInt64(bytes.count))
                bytes[index] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.next() % 5 == 0 { bytes.removeLast(Int(random.next() % UInt64(bytes.count))) }
            let server = try TLSSession(context: context)
            server.receiveFromNetwork(bytes)
            let label: String
            switch server.handshake() {
            case .incomplete: label = "incomplete"
            case .complete: label = "complete"
            case .failed(let error):
                label = "failed"
                #expect(error.kind == .handshake)
            }
            outcomes[label, default: 0] += 1
            #expect(OpenSSLErrorQueue.isEmpty)
        }
        #expect(outcomes["complete"] == nil, "one flight from the client cannot complete a handshake")
        #expect(outcomes["failed", default: 0] > 0)
    }

    @Test("a partial record header waits for more instead of failing")
    func partialRecordWaits() throws {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        server.receiveFromNetwork([0x16, 0x03, 0x01])
        #expect(server.handshake() == .incomplete)
        #expect(!server.hasNetworkOutput)
        var buffer: [UInt8] = []
        #expect(try server.readPlaintext(into: &buffer) == .wantMore)
        #expect(buffer.isEmpty)
    }

    @Test("a verifying client accepts the self-signed certificate for its own name only",
          arguments: [("mail.example.test", true), ("other.example.test", false)])
    func verifyingClient(serverName: String, accepted: Bool) throws {
        let fixture = try CertificateFixture(hostName: "mail.example.test")
        let server = try TLSSession(context: fixture.serverContext())
        let clientContext = try TLSContext.makeClient(
            verifyingPeer: true, trustedCertificatesPath: fixture.certificatePath
        )
        let client = try TLSSession(context: clientContext, serverName: serverName)
        let outcome = InMemoryWire(client: client, server: server).handshake()
        #expect(server.requestedServerName == serverName)
        if accepted {
            #expect(outcome.client == .complete)
            #expect(outcome.server == .complete)
        } else {
            let error = try #require(outcome.client.failure)
            #expect(error.messages.contains { $0.contains("certificate verify failed") })
            #expect(outcome.server.failure?.kind == .handshake)
        }
    }

    @Test("a verifying client without the certificate as trust anchor rejects it")
    func untrustedSelfSigned() throws {
        let fixture = try CertificateFixture()
        let other = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        let clientContext = try TLSContext.makeClient(
            verifyingPeer: true, trustedCertificatesPath: other.certificatePath
        )
        let client = try TLSSession(context: clientContext, serverName: fixture.hostName)
        let outcome = InMemoryWire(client: client, server: server).handshake()
        #expect(outcome.client.failure?.messages.contains { $0.contains("certificate verify failed") } == true)
    }

    @Test("sessions sharing one context handshake concurrently on many threads")
    func concurrentHandshakes() throws {
        let fixture = try CertificateFixture()
        let serverContext = try fixture.serverContext()
        let clientContext = try TLSContext.makeClient(verifyingPeer: false)
        let results = Lock()
        nonisolated(unsafe) var versions: [String] = []
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            let version: String
            do {
                let server = try TLSSession(context: serverContext)
                let client = try TLSSession(context: clientContext)
                var wire = InMemoryWire(client: client, server: server)
                wire.dripFeed = index.isMultiple(of: 4)
                _ = wire.handshake()
                let received = try wire.transfer(Array("thread \(index)".utf8), from: client, to: server)
                version = String(decoding: received, as: UTF8.self) + " " + (server.protocolVersion ?? "none")
            } catch {
                version = "error \(error)"
            }
            results.withLock { versions.append(version) }
        }
        #expect(Set(versions) == Set((0..<16).map { "thread \($0) TLSv1.3" }))
    }
}
