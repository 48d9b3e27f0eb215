// TLSContextTests: building server contexts from good and bad files and settings, reloading, and the
// guarantee that a failure leaves nothing in OpenSSL's error queue for the next caller.
import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeTLS

@Suite("TLS contexts")
struct TLSContextTests {
    @Test("a matching certificate and key build a server context", arguments: SelfSignedCertificate.KeyType.allCases)
    func validContext(keyType: SelfSignedCertificate.KeyType) throws {
        let fixture = try CertificateFixture(keyType: keyType)
        let context = try fixture.serverContext()
        #expect(context.role == .server)
        #expect(context.configuration == fixture.configuration())
        #expect(!context.verifiesPeer)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test("a key from another certificate is a key mismatch", arguments: [
        (SelfSignedCertificate.KeyType.ecdsaP256, SelfSignedCertificate.KeyType.ecdsaP256),
        (SelfSignedCertificate.KeyType.rsa2048, SelfSignedCertificate.KeyType.rsa2048),
        (SelfSignedCertificate.KeyType.ecdsaP256, SelfSignedCertificate.KeyType.rsa2048),
    ])
    func mismatchedKey(certificateType: SelfSignedCertificate.KeyType, keyType: SelfSignedCertificate.KeyType) throws {
        let first = try CertificateFixture(keyType: certificateType)
        let second = try CertificateFixture(keyType: keyType)
        let configuration = TLSConfiguration(
            certificateChainPath: first.certificatePath, privateKeyPath: second.privateKeyPath
        )
        let error = capture { try TLSContext(configuration: configuration) }
        #expect(error?.kind == .keyMismatch)
        #expect(error?.messages.isEmpty == false)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    enum BrokenFile: String, CaseIterable {
        case missingCertificate, garbageCertificate, keyAsCertificate, missingKey, garbageKey, certificateAsKey
    }

    @Test("unreadable certificate or key files give typed errors", arguments: BrokenFile.allCases)
    func brokenFiles(broken: BrokenFile) throws {
        let fixture = try CertificateFixture()
        let directory = fixture.directory
        var configuration = fixture.configuration()
        let expectedKind: TLSError.Kind
        switch broken {
        case .missingCertificate:
            configuration.certificateChainPath = directory.file("absent.pem")
            expectedKind = .certificate
        case .garbageCertificate:
            configuration.certificateChainPath = directory.write("not a certificate\n", to: "garbage.pem")
            expectedKind = .certificate
        case .keyAsCertificate:
            configuration.certificateChainPath = fixture.privateKeyPath
            expectedKind = .certificate
        case .missingKey:
            configuration.privateKeyPath = directory.file("absent-key.pem")
            expectedKind = .privateKey
        case .garbageKey:
            configuration.privateKeyPath = directory.write(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", to: "garbage-key.pem"
            )
            expectedKind = .privateKey
        case .certificateAsKey:
            configuration.privateKeyPath = fixture.certificatePath
            expectedKind = .privateKey
        }
        let error = capture { try TLSContext(configuration: configuration) }
        #expect(error?.kind == expectedKind)
        #expect(error?.messages.isEmpty == false)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test(
        "an encrypted key is refused without prompting for a pass phrase",
        .enabled(if: ExternalTool.isAvailable("openssl"), "openssl is not installed (apt-get install openssl)"))
    func encryptedKey() throws {
        let openssl = try #require(ExternalTool.find("openssl"))
        let fixture = try CertificateFixture()
        let encryptedPath = fixture.directory.file("encrypted-key.pem")
        let result = ExternalTool.run(openssl, [
            "pkey", "-in", fixture.privateKeyPath, "-out", encryptedPath, "-aes256", "-passout", "pass:secret",
        ])
        try #require(result.status == 0)
        var configuration = fixture.configuration()
        configuration.privateKeyPath = encryptedPath
        let error = capture { try TLSContext(configuration: configuration) }
        #expect(error?.kind == .privateKey)
    }

    @Test("invalid settings are refused", arguments: [
        ("minimum TLS 1.0", TLSProtocolVersion.tls10, TLSConfiguration.defaultCipherList, "SSL_CTX_new"),
        ("minimum TLS 1.1", TLSProtocolVersion.tls11, TLSConfiguration.defaultCipherList, "SSL_CTX_new"),
        ("unknown cipher", TLSProtocolVersion.tls12, "NO-SUCH-CIPHER", "SSL_CTX_set_cipher_list"),
        ("empty cipher list", TLSProtocolVersion.tls12, "", "SSL_CTX_set_cipher_list"),
    ])
    func invalidSettings(label: String, minimum: TLSProtocolVersion, cipherList: String, operation: String) throws {
        let fixture = try CertificateFixture()
        var configuration = fixture.configuration(minimumVersion: minimum)
        configuration.cipherList = cipherList
        let error = capture { try TLSContext(configuration: configuration) }
        #expect(error?.kind == .invalidConfiguration, "\(label)")
        if minimum >= .tls12 { #expect(error?.operation == operation) }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test("unknown TLS 1.3 suites are refused")
    func invalidSuites() throws {
        let fixture = try CertificateFixture()
        var configuration = fixture.configuration()
        configuration.cipherSuites = "TLS_NOT_A_SUITE"
        #expect(capture { try TLSContext(configuration: configuration) }?.kind == .invalidConfiguration)
    }

    @Test("a client with maximum below minimum is refused")
    func invertedClientRange() {
        let error = capture { try TLSContext.makeClient(minimumVersion: .tls13, maximumVersion: .tls12) }
        #expect(error?.kind == .invalidConfiguration)
    }

    @Test("reloading picks up a replaced certificate; running sessions keep the old one")
    func reload() throws {
        let fixture = try CertificateFixture(hostName: "old.example.test")
        let context = try fixture.serverContext()
        let running = try TLSSession(context: context)
        let replacement = try SelfSignedCertificate.generate(
            hostName: "new.example.test", clock: SystemClock(), random: SeededRandomSource(seed: 9)
        )
        try replacement.write(certificatePath: fixture.certificatePath, privateKeyPath: fixture.privateKeyPath)
        let reloaded = try context.reloaded()
        #expect(reloaded !== context)

        for (server, trusted, name) in [
            (running, fixture.certificate.certificatePEM, "old.example.test"),
            (try TLSSession(context: reloaded), replacement.certificatePEM, "new.example.test"),
        ] {
            let anchor = fixture.directory.write(trusted, to: "anchor-\(name).pem")
            let client = try TLSSession(
                context: TLSContext.makeClient(verifyingPeer: true, trustedCertificatesPath: anchor), serverName: name
            )
            let outcome = InMemoryWire(client: client, server: server).handshake()
            #expect(outcome.client == .complete, "\(name)")
        }
        #expect(capture { try TLSContext.makeClient(verifyingPeer: false).reloaded() }?.kind == .invalidConfiguration)
    }

    @Test("protocol version names parse", arguments: [
        ("TLSv1.2", TLSProtocolVersion.tls12), ("TLSv1.3", .tls13), ("1.2", .tls12), ("tls1.3", .tls13),
        ("TLSv1", .tls10), ("TLSv1.1", .tls11),
    ])
    func versionNames(name: String, version: TLSProtocolVersion) {
        #expect(TLSProtocolVersion(name: name) == version)
    }

    @Test("bad protocol version names do not parse", arguments: ["", "SSLv3", "TLSv1.4", "TLSv2", "tls"])
    func badVersionNames(name: String) {
        #expect(TLSProtocolVersion(name: name) == nil)
    }
}
