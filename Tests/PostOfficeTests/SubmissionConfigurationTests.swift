// SubmissionConfigurationTests: the configuration keys of submission and trust (issues 13 and 19) parse,
// render back to themselves, and refuse bad values with the reason; the old smtps_listen name still works.

import PostOfficeCore
import PostOfficeTLS
import Testing
@testable import PostOffice

@Suite struct SubmissionConfigurationTests {
    /// A base with a certificate, which implicit-TLS listeners need.
    private var base: PostOfficeConfiguration {
        var c = PostOfficeConfiguration(dataDirectory: "/srv/po")
        c.tls = TLSConfiguration(certificateChainPath: "/srv/po/tls/certificate.pem", privateKeyPath: "/srv/po/tls/private-key.pem")
        return c
    }

    @Test func submissionKeysParseAndRenderBack() throws {
        let text = """
            submission_listen = 127.0.0.1:1587
            submissions_listen = 127.0.0.1:1465
            smtpd_auth_on_smtp = yes
            smtpd_auth_mechanisms = LOGIN, plain
            sender_login_mismatch = allow
            submission_messages_per_hour = 50
            submission_recipients_per_hour = 0
            submission_hide_client = yes
            relay_networks = 192.0.2.0/24, 2001:db8::/32
            plaintext_auth_networks = 127.0.0.1
            postmaster_address = alice@example.test
            """
        let c = try ConfigurationFile.parse(text, fileName: "po.conf", base: base)
        #expect(c.submissionListeners == [SocketAddress(host: "127.0.0.1", port: 1587)])
        #expect(c.smtpsListeners == [SocketAddress(host: "127.0.0.1", port: 1465)])
        #expect(c.offersAuthenticationOnSMTP)
        #expect(c.smtpAuthenticationMechanisms == [.login, .plain])
        #expect(!c.rejectsSenderLoginMismatch)
        #expect(c.submissionMessagesPerHour == 50)
        #expect(c.submissionRecipientsPerHour == 0)
        #expect(c.hidesSubmissionClient)
        #expect(c.relayNetworks.map(\.description) == ["192.0.2.0/24", "2001:db8::/32"])
        #expect(c.plaintextAuthenticationNetworks.map(\.description) == ["127.0.0.1/32"])
        #expect(c.postmasterAddress == MailAddress("alice@example.test"))
        let rendered = ConfigurationFile.render(c).joined(separator: "\n")
        let again = try ConfigurationFile.parse(rendered, fileName: "rendered", base: base)
        #expect(ConfigurationFile.render(again) == ConfigurationFile.render(c))
    }

    /// The default offers PLAIN then LOGIN; an empty value turns SMTP AUTH off.
    @Test func authenticationMechanismsDefaultAndEmpty() throws {
        #expect(base.smtpAuthenticationMechanisms == [.plain, .login])
        let c = try ConfigurationFile.parse("smtpd_auth_mechanisms =\n", fileName: "po.conf", base: base)
        #expect(c.smtpAuthenticationMechanisms.isEmpty)
        #expect(ConfigurationFile.render(c).contains("smtpd_auth_mechanisms = "))
    }

    @Test func theOldSMTPSNameStillWorksAndIsNoted() throws {
        let c = try ConfigurationFile.parse(
            "smtps_listen = 127.0.0.1:465\n", fileName: "po.conf", base: base)
        #expect(c.smtpsListeners == [SocketAddress(host: "127.0.0.1", port: 465)])
        #expect(c.deprecatedKeys == ["po.conf:1: 'smtps_listen' is now 'submissions_listen'"])
        #expect(c.listenerSpecs.contains(ListenerSpec(address: SocketAddress(host: "127.0.0.1", port: 465), service: .submission, security: .implicit)))
    }

    @Test(arguments: [
        ("relay_networks = 192.0.2.0/33", "relay_networks: '192.0.2.0/33' is not a network"),
        ("plaintext_auth_networks = localhost", "plaintext_auth_networks: 'localhost' is not a network"),
        ("smtpd_auth_mechanisms = plain cram-md5", "smtpd_auth_mechanisms: 'cram-md5' is not a mechanism PostOffice offers (plain, login)"),
        ("sender_login_mismatch = maybe", "sender_login_mismatch: expected reject or allow, got 'maybe'"),
        ("submission_messages_per_hour = -1", "submission_messages_per_hour: '-1' is not a whole number of 0 or more"),
        ("postmaster_address = not an address", "postmaster_address: 'not an address' is not an address"),
    ])
    func badValuesNameTheReason(_ line: String, _ message: String) {
        do {
            _ = try ConfigurationFile.parse(line, fileName: "f", base: PostOfficeConfiguration(dataDirectory: "/srv/po"))
            Issue.record("parsed: \(line)")
        } catch {
            #expect(error.description.hasPrefix("f:1: " + message), "\(error.description)")
        }
    }

    @Test(arguments: ["[127.0.0.2]:2525", "127.0.0.2:2525"])
    func outboundKeysParse(_ relay: String) throws {
        let text = """
            deliver_outbound = yes
            relayhost = \(relay)
            smtp_destination_port = 2526
            outbound_tls = encrypt
            dns_servers = 127.0.53.1:5353
            queue_run_interval = 5
            """
        let c = try ConfigurationFile.parse(text, fileName: "po.conf", base: base)
        #expect(c.deliversOutbound)
        #expect(c.relayHost == SocketAddress(host: "127.0.0.2", port: 2525))
        #expect(c.smtpDestinationPort == 2526)
        #expect(c.outboundTLSPolicy == "encrypt")
        // The old name still works and is reported as renamed.
        #expect(c.deprecatedKeys.contains { $0.contains("'outbound_tls' is now 'smtp_tls_security_level'") })
        #expect(c.dnsServers == ["127.0.53.1:5353"])
        #expect(c.queueRunIntervalSeconds == 5)
        let again = try ConfigurationFile.parse(ConfigurationFile.render(c).joined(separator: "\n"), fileName: "r", base: base)
        #expect(again.relayHost == c.relayHost)
    }

    /// Postfix's relayhost forms: brackets mean "no MX lookup"; a bare name has its MX records looked up; an
    /// address is used as is. Each renders back in the same form.
    @Test(arguments: [
        ("[smtp.example.net]:587", RelayHost(host: "smtp.example.net", port: 587, looksUpMX: false), "[smtp.example.net]:587"),
        ("SMTP.example.net:587", RelayHost(host: "smtp.example.net", port: 587, looksUpMX: true), "smtp.example.net:587"),
        ("[smtp.example.net]", RelayHost(host: "smtp.example.net", port: nil, looksUpMX: false), "[smtp.example.net]"),
        ("smtp.example.net", RelayHost(host: "smtp.example.net", port: nil, looksUpMX: true), "smtp.example.net"),
        ("192.0.2.1:587", RelayHost(host: "192.0.2.1", port: 587, looksUpMX: false), "192.0.2.1:587"),
        ("[192.0.2.1]:587", RelayHost(host: "192.0.2.1", port: 587, looksUpMX: false), "192.0.2.1:587"),
        ("[2001:db8::1]:587", RelayHost(host: "2001:db8::1", port: 587, looksUpMX: false), "[2001:db8::1]:587"),
    ])
    func relayHostNamesParseAsPostfixWritesThem(_ value: String, _ expected: RelayHost, _ rendered: String) throws {
        let c = try ConfigurationFile.parse("relayhost = \(value)\n", fileName: "po.conf", base: base)
        #expect(c.smarthost == expected)
        #expect(c.smarthost?.description == rendered)
        // Only an address has the SocketAddress form embedders used before names were allowed.
        #expect((c.relayHost != nil) == (!expected.host.contains("example") && expected.port != nil))
        let again = try ConfigurationFile.parse(ConfigurationFile.render(c).joined(separator: "\n"), fileName: "r", base: base)
        #expect(again.smarthost == c.smarthost)
    }

    @Test(arguments: [
        ("relayhost = mail.example.net:99999", "relayhost: 'mail.example.net:99999' is not [host]:port, host:port or ADDRESS:PORT"),
        ("relayhost = [smtp.example.net", "relayhost: '[smtp.example.net' is not [host]:port"),
        ("relayhost = bad..name:25", "relayhost: 'bad..name:25' is not [host]:port"),
        ("relayhost = 2001:db8::1:25", "relayhost: '2001:db8::1:25' is not [host]:port"),
        ("outbound_tls = always", "smtp_tls_security_level: expected may, encrypt, verify or none"),
        ("smtp_tls_security_level = dane", "smtp_tls_security_level: expected may, encrypt, verify or none"),
        ("smtp_destination_port = 0", "smtp_destination_port: '0' is not a port"),
    ])
    func badOutboundValuesNameTheReason(_ line: String, _ message: String) {
        do {
            _ = try ConfigurationFile.parse(line, fileName: "f", base: base)
            Issue.record("parsed: \(line)")
        } catch {
            #expect(error.description.hasPrefix("f:1: " + message), "\(error.description)")
        }
    }
}
