// ConfigurationFileTests: the key = value format — valid files, and every kind of mistake named with its
// file and line; the rendered settings parse back to the same configuration.

import Testing
@testable import PostOffice

@Suite struct ConfigurationFileTests {
    let base = PostOfficeConfiguration(hostname: "mx.test", dataDirectory: "/data")

    @Test func readsEveryKindOfValue() throws {
        let text = """
            # a comment
            hostname = mail.example.test
            domains = example.test, Example.NET
            smtp_listen = 127.0.0.1:25, [::1]:25
            pop3_listen = 0.0.0.0:110
            message_size_limit = 10_240_000
            recipient_limit = 500   # trailing comment
            reject_long_lines = yes
            catch_all = example.test=postmaster@example.test
            recipient_delimiter = -
            mail_location = %d/%n/Maildir
            users_file = /etc/postoffice/users
            aliases_file = aliases
            smtp_greeting_delay_ms = 500
            limit_loopback_connections = yes
            """
        let c = try ConfigurationFile.parse(text, fileName: "po.conf", base: base)
        #expect(c.hostname == "mail.example.test")
        #expect(c.domains == ["example.test", "example.net"])
        #expect(c.smtpListeners == [SocketAddress(host: "127.0.0.1", port: 25), SocketAddress(host: "::1", port: 25)])
        #expect(c.pop3Listeners == [SocketAddress(host: "0.0.0.0", port: 110)])
        #expect(c.limits.maximumMessageSize == 10_240_000)
        #expect(c.limits.maximumRecipients == 500)
        #expect(c.limits.rejectLongTextLines)
        #expect(c.catchAll == ["example.test": "postmaster@example.test"])
        #expect(c.subaddressDelimiter == "-")
        #expect(c.mailLocation == "%d/%n/Maildir")
        #expect(c.usersFile == "/etc/postoffice/users")
        #expect(c.aliasesFile == "/data/aliases")
        #expect(c.limits.smtpGreetingDelayMilliseconds == 500)
        #expect(c.limits.limitsLoopbackConnections)
    }

    @Test func readsTLSSettings() throws {
        let text = """
            tls_certificate = tls/cert.pem
            tls_private_key = /etc/key.pem
            tls_minimum_version = TLSv1.3
            smtps_listen = 127.0.0.1:465
            pop3s_listen = [::1]:995
            """
        let c = try ConfigurationFile.parse(text, fileName: "f", base: base)
        #expect(c.tls?.certificateChainPath == "/data/tls/cert.pem")
        #expect(c.tls?.privateKeyPath == "/etc/key.pem")
        #expect(c.tls?.minimumVersion == .tls13)
        #expect(c.smtpsListeners == [SocketAddress(host: "127.0.0.1", port: 465)])
        #expect(c.pop3sListeners == [SocketAddress(host: "::1", port: 995)])
    }

    @Test func continuationLinesExtendTheValue() throws {
        let c = try ConfigurationFile.parse("domains = a.test,\n    b.test\n", fileName: "f", base: base)
        #expect(c.domains == ["a.test", "b.test"])
    }

    static let mistakes: [(text: String, message: String)] = [
        ("no_such_key = 1", "f:1: unknown key 'no_such_key'"),
        ("\n\nrecipient_limit = lots", "f:3: recipient_limit: 'lots' is not a whole number"),
        ("recipient_limit = 5", "f:1: recipient_limit: 5 is out of range 100...100000"),
        ("just words", "f:1: expected 'key = value'"),
        ("smtp_listen = 127.0.0.1", "f:1: smtp_listen: '127.0.0.1' is not host:port with a literal IP address"),
        ("smtp_listen = example.com:25", "f:1: smtp_listen: 'example.com:25' is not host:port with a literal IP address"),
        ("reject_long_lines = perhaps", "f:1: reject_long_lines: expected yes or no, got 'perhaps'"),
        ("hostname = bad host", "f:1: hostname: 'bad host' is not a host name"),
        ("hostname = a\nhostname = b", "f:2: 'hostname' is set twice (first on line 1): keep one"),
        ("mail_location = %d", "f:1: mail_location: must contain %n or %u"),
        ("mail_location = ../%n", "f:1: mail_location: must be a relative path without '..'"),
        ("catch_all = example.test", "f:1: catch_all: expected domain=address, got 'example.test'"),
        ("  indented = 1", "f:1: continuation line with nothing to continue"),
        ("dns_servers = 127.0.0.1:53, ns.example.test", "f:1: dns_servers: 'ns.example.test' is not an IP address or IP:PORT (names cannot be resolved before DNS works)"),
        ("dns_servers = 127.0.0.1:0", "f:1: dns_servers: '127.0.0.1:0' is not an IP address or IP:PORT (names cannot be resolved before DNS works)"),
        ("pop3_idle_timeout = 60", "f:1: pop3_idle_timeout: 60 is out of range 600...86400"),
        ("tls_minimum_version = TLSv1.1", "f:1: tls_minimum_version: TLSv1.1 is too old: TLSv1.2 is the minimum"),
        ("tls_minimum_version = SSLv3", "f:1: tls_minimum_version: expected TLSv1.2 or TLSv1.3, got 'SSLv3'"),
        ("tls_certificate = /c.pem", "f:1: tls_private_key is not set: set tls_certificate and tls_private_key together (or both empty for no TLS)"),
        ("pop3s_listen = 127.0.0.1:995", "f:1: submissions_listen and pop3s_listen need TLS, which is off: set tls_certificate and tls_private_key, or leave them out for the default certificate"),
    ]

    @Test(arguments: mistakes)
    func mistakesNameFileAndLine(text: String, message: String) {
        #expect(throws: ConfigurationError.self) { try ConfigurationFile.parse(text, fileName: "f", base: base) }
        do {
            _ = try ConfigurationFile.parse(text, fileName: "f", base: base)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func renderedSettingsParseBackUnchanged() throws {
        var c = base
        c.domains = ["example.test"]
        c.limits.maximumRecipients = 321
        c.catchAll = ["example.test": "pm@example.test"]
        let text = ConfigurationFile.render(c).joined(separator: "\n")
        let again = try ConfigurationFile.parse(text, fileName: "rendered", base: base)
        #expect(ConfigurationFile.render(again) == ConfigurationFile.render(c))
    }

    @Test func templateIsAllComments() throws {
        let template = ConfigurationFile.template(for: base)
        let c = try ConfigurationFile.parse(template, fileName: "template", base: base)
        #expect(ConfigurationFile.render(c) == ConfigurationFile.render(base))
        #expect(template.contains("#message_size_limit = 26214400"))
    }
}

@Suite struct SocketAddressTests {
    @Test(arguments: [
        ("127.0.0.1:2525", "127.0.0.1", 2525), ("[::1]:25", "::1", 25), ("localhost:0", "127.0.0.1", 0),
        ("*:110", "0.0.0.0", 110), ("0.0.0.0:65535", "0.0.0.0", 65535),
    ])
    func parses(text: String, host: String, port: Int) {
        #expect(SocketAddress(parsing: text) == SocketAddress(host: host, port: port))
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1", "::1:25", "[::1]25", "host:25", "[::1", ":x", ""])
    func refuses(text: String) {
        #expect(SocketAddress(parsing: text) == nil)
    }

    @Test func loopbackIsRecognised() {
        #expect(SocketAddress(host: "127.0.0.2", port: 1).isLoopback)
        #expect(SocketAddress(host: "::1", port: 1).isLoopback)
        #expect(!SocketAddress(host: "192.0.2.1", port: 1).isLoopback)
    }
}

@Suite struct WireTraceTests {
    @Test func passwordsAreRedacted() {
        var trace = WireTrace()
        #expect(trace.clientLines(Array("USER alice\r\nPASS hunter2\r\n".utf8)) == ["USER alice", "PASS <redacted>"])
        #expect(trace.clientLines(Array("AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n".utf8)) == ["AUTH PLAIN <redacted>"])
        #expect(trace.clientLines(Array("AUTH PLAIN\r\n".utf8)) == ["AUTH PLAIN <redacted>"])
        #expect(trace.clientLines(Array("AGFsaWNlAGh1bnRlcjI=\r\n".utf8)) == ["<redacted>"])
        #expect(trace.clientLines(Array("NOOP\r\n".utf8)) == ["NOOP"])
    }

    @Test func controlBytesAreShownNotObeyed() {
        let trace = WireTrace()
        #expect(trace.serverLines([0x41, 0x00, 0x1b, 0x0d, 0x0a]) == ["A\\x0\\x1b"])
    }
}
