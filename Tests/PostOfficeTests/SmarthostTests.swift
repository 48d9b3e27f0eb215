// SmarthostTests: issue 14's last outbound items end to end on loopback — `smtp_tls_CAfile` (a test CA made
// with openssl signs the receiving PostOffice's certificate: `verify` delivers with the CA file, at start, after a
// reload and per destination in transport_maps, and defers with 4.7.5 and a logged reason without it; a missing
// file refuses the start) and host names in `relayhost` (`[name]:port` by address, `name:port` by MX record,
// through dnsmasq on loopback, never the machine's resolver).

import Foundation
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing
@testable import PostOffice
#if canImport(Glibc)
import Glibc
#endif

/// A private certificate authority and one server certificate it signed, made with the openssl command.
struct TestCertificateAuthority {
    static var isAvailable: Bool { ExternalTool.path("openssl") != nil }

    let directory: String
    var caCertificate: String { directory + "/ca.pem" }
    var serverCertificate: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server-key.pem" }

    /// `subjectAltNames` in openssl's syntax: `IP:127.0.0.1`, `DNS:relay.test`.
    init(subjectAltNames: [String]) throws {
        directory = try LiveTestSupport.temporaryDirectory("test-ca")
        func openssl(_ arguments: [String]) throws {
            let result = try ExternalTool.run("openssl", arguments, timeoutSeconds: 60)
            guard result.status == 0 else { throw TestClientError("openssl \(arguments.first ?? ""): \(result.errorOutput)") }
        }
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + curve + [
            "-keyout", directory + "/ca-key.pem", "-out", caCertificate, "-days", "2", "-subj", "/CN=PostOffice Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try openssl(["req"] + curve + [
            "-keyout", serverKey, "-out", directory + "/server.csr", "-subj", "/CN=relay server",
        ])
        let extensions = directory + "/server.ext"
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = \(subjectAltNames.joined(separator: ", "))

            """.write(toFile: extensions, atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", directory + "/server.csr", "-CA", caCertificate, "-CAkey", directory + "/ca-key.pem",
            "-set_serial", "2", "-days", "2", "-extfile", extensions, "-out", serverCertificate,
        ])
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite(.enabled(if: TestCertificateAuthority.isAvailable, "openssl is not installed (apt package openssl)"))
struct SmarthostTests {
    private func submit(_ office: TestPostOffice, to recipient: String, subject: String) throws {
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        let reply = try client.sendMail(from: "alice@example.test", to: [recipient], body: "Subject: \(subject)\n\nbody\n")
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

    /// The receiving server: a second PostOffice whose SMTP listener offers STARTTLS with the CA's certificate.
    private func receiver(_ authority: TestCertificateAuthority) throws -> TestPostOffice {
        try TestPostOffice(users: ["bob@dest.test": "pw"]) { configuration in
            configuration.tls = TLSConfiguration(
                certificateChainPath: authority.serverCertificate, privateKeyPath: authority.serverKey)
        }
    }

    private func sender(
        logSink: any LogSink = DiscardingLogSink(), configure: @escaping (inout PostOfficeConfiguration) -> Void
    ) throws -> TestPostOffice {
        try TestPostOffice(users: ["alice@example.test": "pw"], logSink: logSink) { configuration in
            configuration.deliversOutbound = true
            configure(&configuration)
        }
    }

    // MARK: smtp_tls_CAfile

    @Test func verifyTrustsTheCAFileAndDefersWithoutIt() throws {
        // The client connects to 127.0.0.1 and checks that name: the certificate carries it as an IP SAN.
        let authority = try TestCertificateAuthority(subjectAltNames: ["IP:127.0.0.1"])
        defer { authority.remove() }
        let receiver = try receiver(authority)
        defer { receiver.stop() }

        // Without the CA file the system store does not know our CA: the mail waits, 4.7.5 with the reason.
        let log = CollectingLogSink()
        let office = try sender(logSink: log) { configuration in
            configuration.relayHost = receiver.smtpAddress
            configuration.outboundTLSPolicy = "verify"
        }
        defer { office.stop() }
        try submit(office, to: "bob@dest.test", subject: "verified relay")
        var status: QueueRecipientStatus?
        #expect(try eventually {
            guard let recipient = try queue(office).first?.state.recipients.first, recipient.attempts >= 1 else { return false }
            status = recipient.status
            return true
        })
        guard case .temporaryFailure(let code, let text)? = status else {
            Issue.record("not deferred: \(String(describing: status))")
            return
        }
        #expect(code == EnhancedStatusCode(4, 7, 5))
        #expect(text.contains("TLS handshake failed: certificate verify failed"), "\(text)")
        let failure = try #require(log.records.first { $0.event == "outbound.tls_failed" })
        #expect(failure.logfmt.contains("certificate verify failed"), "\(failure.logfmt)")
        #expect(receiver.messages(for: "bob@dest.test").isEmpty)

        // The CA file, given by a reload: the waiting mail goes, over verified TLS.
        var next = office.server.currentConfiguration
        next.outboundTLSCAFile = authority.caCertificate
        let report = try office.server.reload(configuration: next)
        #expect(report.applied.contains("smtp_tls_CAfile"))
        office.server.flushQueue()
        let delivered = try receiver.waitForMessage(for: "bob@dest.test", timeoutSeconds: 15)
        #expect(delivered.contains("Subject: verified relay"))
        #expect(delivered.contains("ESMTPS"), "the receiver's Received: line shows TLS")
        #expect(try eventually { try queue(office).isEmpty })
    }

    @Test func aTransportMapsVerifyEntryUsesTheCAFileFromTheStart() throws {
        let authority = try TestCertificateAuthority(subjectAltNames: ["IP:127.0.0.1"])
        defer { authority.remove() }
        let receiver = try receiver(authority)
        defer { receiver.stop() }
        let office = try sender { configuration in
            // Global `may`; the entry asks for `verify`, which trusts the CA file read at start.
            configuration.outboundTLSCAFile = authority.caCertificate
            let path = configuration.dataDirectory + "/transport"
            try? "dest.test smtp:[127.0.0.1]:\(receiver.smtpAddress.port) tls=verify\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
            configuration.transportMapsFile = path
        }
        defer { office.stop() }
        try submit(office, to: "bob@dest.test", subject: "per destination")
        let delivered = try receiver.waitForMessage(for: "bob@dest.test", timeoutSeconds: 15)
        #expect(delivered.contains("ESMTPS"))
        #expect(try eventually { try queue(office).isEmpty })
    }

    @Test func aMissingOrEmptyCAFileRefusesTheStartNamingTheFile() throws {
        let directory = try LiveTestSupport.temporaryDirectory("cafile")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/no-such-ca.pem"
        let empty = directory + "/empty-ca.pem"
        try "not a certificate\n".write(toFile: empty, atomically: true, encoding: .utf8)
        for (path, reason) in [(missing, "smtp_tls_CAfile cannot be read (No such file or directory)"), (empty, "holds no PEM certificate")] {
            do {
                let office = try sender { configuration in configuration.outboundTLSCAFile = path }
                office.stop()
                Issue.record("started with smtp_tls_CAfile = \(path)")
            } catch {
                #expect("\(error)".hasPrefix(path + ": "), "\(error)")
                #expect("\(error)".contains(reason), "\(error)")
            }
        }
        // A reload to a missing file is refused too, and the server keeps what it had.
        let office = try sender { _ in }
        defer { office.stop() }
        var next = office.server.currentConfiguration
        next.outboundTLSCAFile = missing
        #expect(throws: ConfigurationError.self) { try office.server.reload(configuration: next) }
        #expect(office.server.currentConfiguration.outboundTLSCAFile == nil)
    }

    // MARK: Host names in relayhost

    @Test(.enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"),
          .enabled(if: SMTPSinkProcess.executable != nil, "smtp-sink is not installed (apt package postfix)"))
    func aRelayHostNameGoesByAddressInBracketsAndByMXWithout() throws {
        // relay.test's own address is 127.0.0.2; its MX, mx.relay.test, is 127.0.0.3. One sink on each.
        let port = try SMTPSinkProcess.freePort()
        let byAddress = try SMTPSinkProcess(host: "127.0.0.2", port: port)
        let byMX = try SMTPSinkProcess(host: "127.0.0.3", port: port)
        let dns = try DNSMasqServer(records: [
            "--host-record=relay.test,127.0.0.2", "--mx-host=relay.test,mx.relay.test,10",
            "--host-record=mx.relay.test,127.0.0.3",
        ])
        let office = try sender { configuration in
            configuration.dnsServers = ["\(DNSMasqServer.host):\(dns.port)"]
            configuration.smarthost = RelayHost(parsing: "[relay.test]:\(port)")
        }
        defer { office.stop() }
        try submit(office, to: "friend@elsewhere.test", subject: "brackets mean no MX lookup")
        #expect(eventually { byAddress.dump.contains("brackets mean no MX lookup") }, "127.0.0.2 got: \(byAddress.dump)")

        // Postfix's bare form looks up the relay host's MX records, as transport_maps' smtp:host does.
        var next = office.server.currentConfiguration
        next.smarthost = RelayHost(parsing: "relay.test:\(port)")
        #expect(try office.server.reload(configuration: next).applied.contains("relayhost"))
        try submit(office, to: "friend@elsewhere.test", subject: "a bare name has its MX looked up")
        #expect(eventually { byMX.dump.contains("a bare name has its MX looked up") }, "127.0.0.3 got: \(byMX.dump)")
        #expect(!byMX.dump.contains("brackets mean no MX lookup"))
        #expect(!byAddress.dump.contains("a bare name has its MX looked up"))

        #expect(try eventually { try queue(office).isEmpty })
        // A bracketed name without an address keeps the mail, saying so.
        next.smarthost = RelayHost(parsing: "[nowhere.test]:\(port)")
        _ = try office.server.reload(configuration: next)
        try submit(office, to: "friend@elsewhere.test", subject: "no address")
        var reply: String?
        #expect(try eventually {
            guard let recipient = try queue(office).first?.state.recipients.first, recipient.attempts >= 1 else { return false }
            reply = recipient.status.reply
            return true
        })
        #expect(reply?.contains("nowhere.test") == true, "\(reply ?? "")")
        withExtendedLifetime(dns) {}
    }

    @Test(.enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"))
    func verifyChecksABracketedRelayHostByItsName() throws {
        // The certificate names tls.relay.test (no IP SAN): the client checks the name it was given.
        let authority = try TestCertificateAuthority(subjectAltNames: ["DNS:tls.relay.test"])
        defer { authority.remove() }
        let receiver = try receiver(authority)
        defer { receiver.stop() }
        let dns = try DNSMasqServer(records: ["--host-record=tls.relay.test,127.0.0.1", "--host-record=other.relay.test,127.0.0.1"])
        let office = try sender { configuration in
            configuration.dnsServers = ["\(DNSMasqServer.host):\(dns.port)"]
            configuration.outboundTLSPolicy = "verify"
            configuration.outboundTLSCAFile = authority.caCertificate
            configuration.smarthost = RelayHost(parsing: "[other.relay.test]:\(receiver.smtpAddress.port)")
        }
        defer { office.stop() }
        // The same server under a name its certificate does not carry: refused (hostname mismatch).
        try submit(office, to: "bob@dest.test", subject: "by name")
        var status: QueueRecipientStatus?
        #expect(try eventually {
            guard let recipient = try queue(office).first?.state.recipients.first, recipient.attempts >= 1 else { return false }
            status = recipient.status
            return true
        })
        #expect(status?.reply.contains("hostname mismatch") == true, "\(String(describing: status))")
        // Under its own name it verifies.
        var next = office.server.currentConfiguration
        next.smarthost = RelayHost(parsing: "[tls.relay.test]:\(receiver.smtpAddress.port)")
        _ = try office.server.reload(configuration: next)
        office.server.flushQueue()
        let delivered = try receiver.waitForMessage(for: "bob@dest.test", timeoutSeconds: 15)
        #expect(delivered.contains("Subject: by name"))
        withExtendedLifetime(dns) {}
    }
}
