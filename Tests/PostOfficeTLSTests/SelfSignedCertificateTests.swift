// SelfSignedCertificateTests: generated keys and certificates: PEM shape, names, validity, file modes,
// first-run creation, host name validation, and (when the openssl tool exists) an independent parse.
import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeTLS

@Suite("Self-signed certificates")
struct SelfSignedCertificateTests {
    @Test("generated PEM has the expected blocks", arguments: SelfSignedCertificate.KeyType.allCases)
    func pemShape(keyType: SelfSignedCertificate.KeyType) throws {
        let generated = try SelfSignedCertificate.generate(
            hostName: "mail.example.test", keyType: keyType, clock: SystemClock(), random: SeededRandomSource(seed: 1)
        )
        #expect(generated.hostName == "mail.example.test")
        #expect(generated.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        #expect(generated.certificatePEM.hasSuffix("-----END CERTIFICATE-----\n"))
        #expect(generated.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(generated.privateKeyPEM.hasSuffix("-----END PRIVATE KEY-----\n"))
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test("files are written with mode 0644 for the certificate and 0600 for the key")
    func fileModes() throws {
        let fixture = try CertificateFixture()
        let certificateMode = try FileManager.default.attributesOfItem(atPath: fixture.certificatePath)[.posixPermissions]
        let keyMode = try FileManager.default.attributesOfItem(atPath: fixture.privateKeyPath)[.posixPermissions]
        #expect((keyMode as? Int) == 0o600)
        #expect(((certificateMode as? Int) ?? 0) & 0o600 == 0o600)
        #expect(((certificateMode as? Int) ?? 0) & 0o022 == 0, "never group or world writable")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path)
        #expect(Set(leftovers) == ["certificate.pem", "key.pem"])
    }

    @Test("createIfMissing creates once, then leaves files alone")
    func createIfMissing() throws {
        let directory = TemporaryDirectory()
        let certificatePath = directory.file("certificate.pem")
        let keyPath = directory.file("key.pem")
        let created = try SelfSignedCertificate.createIfMissing(
            hostName: "localhost", certificatePath: certificatePath, privateKeyPath: keyPath,
            clock: SystemClock(), random: SystemRandomSource()
        )
        #expect(created)
        let first = try String(contentsOfFile: certificatePath, encoding: .utf8)
        let again = try SelfSignedCertificate.createIfMissing(
            hostName: "localhost", certificatePath: certificatePath, privateKeyPath: keyPath,
            clock: SystemClock(), random: SystemRandomSource()
        )
        #expect(!again)
        #expect(try String(contentsOfFile: certificatePath, encoding: .utf8) == first)
        let context = try TLSContext(
            configuration: TLSConfiguration(certificateChainPath: certificatePath, privateKeyPath: keyPath)
        )
        #expect(context.role == .server)
    }

    @Test("createIfMissing refuses when only one of the two files exists", arguments: [true, false])
    func createIfMissingHalf(keepCertificate: Bool) throws {
        let fixture = try CertificateFixture()
        let removed = keepCertificate ? fixture.privateKeyPath : fixture.certificatePath
        let kept = keepCertificate ? fixture.certificatePath : fixture.privateKeyPath
        let before = try String(contentsOfFile: kept, encoding: .utf8)
        try FileManager.default.removeItem(atPath: removed)
        let error = capture {
            try SelfSignedCertificate.createIfMissing(
                hostName: "localhost", certificatePath: fixture.certificatePath,
                privateKeyPath: fixture.privateKeyPath, clock: SystemClock(), random: SystemRandomSource()
            )
        }
        #expect(error?.kind == .invalidConfiguration)
        #expect(!FileManager.default.fileExists(atPath: removed))
        #expect(try String(contentsOfFile: kept, encoding: .utf8) == before)
    }

    @Test("writing into a missing directory is a file system error")
    func writeFailure() throws {
        let generated = try SelfSignedCertificate.generate(
            hostName: "localhost", clock: SystemClock(), random: SystemRandomSource()
        )
        let error = capture {
            try generated.write(certificatePath: "/nonexistent-dir/c.pem", privateKeyPath: "/nonexistent-dir/k.pem")
        }
        #expect(error?.kind == .fileSystem)
        #expect(error?.systemErrno == ENOENT)
    }

    @Test("host names and addresses map to subjectAltName entries", arguments: [
        ("mail.example.test", "DNS:mail.example.test"),
        ("localhost", "DNS:localhost"),
        ("*.example.org", "DNS:*.example.org"),
        ("xn--bcher-kva.example", "DNS:xn--bcher-kva.example"),
        ("192.0.2.25", "IP:192.0.2.25"),
        ("::1", "IP:::1"),
        ("2001:db8::25", "IP:2001:db8::25"),
    ])
    func acceptedNames(hostName: String, alternativeName: String) {
        #expect(SelfSignedCertificate.subjectAlternativeName(for: hostName) == alternativeName)
    }

    @Test("unusable host names are refused", arguments: [
        "", "mail example", "a,DNS:evil.example", "evil.example,IP:1.2.3.4", "-lead.example", "trail-.example",
        "a..b", ".example", "example.", "*", "mail.*.example", "bücher.example", "host_name.example",
        String(repeating: "a", count: 64) + ".example", String(repeating: "abc.", count: 64) + "example",
    ])
    func refusedNames(hostName: String) {
        #expect(SelfSignedCertificate.subjectAlternativeName(for: hostName) == nil)
        let error = capture {
            try SelfSignedCertificate.generate(hostName: hostName, clock: SystemClock(), random: SystemRandomSource())
        }
        #expect(error?.kind == .invalidConfiguration)
    }

    @Test("validity must be between one day and a century", arguments: [0, -1, 36_501])
    func refusedValidity(days: Int) {
        let error = capture {
            try SelfSignedCertificate.generate(
                hostName: "localhost", validityDays: days, clock: SystemClock(), random: SystemRandomSource()
            )
        }
        #expect(error?.kind == .invalidConfiguration)
    }

    @Test(
        "openssl x509 reads the names, validity and key usage",
        .enabled(if: ExternalTool.isAvailable("openssl"), "openssl is not installed (apt-get install openssl)"),
        arguments: SelfSignedCertificate.KeyType.allCases)
    func independentParse(keyType: SelfSignedCertificate.KeyType) throws {
        let openssl = try #require(ExternalTool.find("openssl"))
        let clock = ManualClock(MailTime(seconds: 1_767_225_600))  // 2026-01-01 00:00:00 UTC
        let generated = try SelfSignedCertificate.generate(
            hostName: "mx.example.test", keyType: keyType, validityDays: 3650, clock: clock,
            random: SeededRandomSource(seed: 42)
        )
        let directory = TemporaryDirectory()
        let path = directory.write(generated.certificatePEM, to: "c.pem")
        let result = ExternalTool.run(openssl, ["x509", "-in", path, "-noout", "-text", "-nameopt", "RFC2253"])
        try #require(result.status == 0)
        let text = result.output
        #expect(text.contains("Version: 3 (0x2)"))
        #expect(text.contains("Subject: CN=mx.example.test,O=PostOffice (self-signed)"))
        #expect(text.contains("Issuer: CN=mx.example.test,O=PostOffice (self-signed)"))
        #expect(text.contains("DNS:mx.example.test"))
        #expect(text.contains("Not Before: Dec 31 23:00:00 2025 GMT"))
        #expect(text.contains("Not After : Dec 30 00:00:00 2035 GMT"))
        #expect(text.contains("TLS Web Server Authentication"))
        #expect(text.contains("CA:FALSE"))
        #expect(text.contains(keyType == .rsa2048 ? "Public-Key: (2048 bit)" : "NIST CURVE: P-256"))
        #expect(text.contains("sha256With") || text.contains("ecdsa-with-SHA256"))

        let again = try SelfSignedCertificate.generate(
            hostName: "mx.example.test", keyType: keyType, validityDays: 3650, clock: clock,
            random: SeededRandomSource(seed: 42)
        )
        let againPath = directory.write(again.certificatePEM, to: "again.pem")
        let serials = [path, againPath].map { ExternalTool.run(openssl, ["x509", "-in", $0, "-noout", "-serial"]).output }
        #expect(serials[0] == serials[1], "the serial comes from the injected random source")
        #expect(serials[0].hasPrefix("serial="))
        #expect(again.privateKeyPEM != generated.privateKeyPEM, "keys come from OpenSSL's own generator")
    }
}
