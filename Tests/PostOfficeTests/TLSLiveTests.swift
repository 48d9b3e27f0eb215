// TLSLiveTests: STARTTLS, STLS and implicit TLS against a live server — the command-injection defence
// (CVE-2011-0411), real clients (swaks, smtplib, poplib, openssl s_client, mpop, fetchmail), the TLS
// details in Received:, and the refusal of cleartext passwords.

import Foundation
import PostOfficeTLS
import PostOfficeTesting
import Testing

/// A TLS client over a LineClient's socket, driven through PostOfficeTLS's sans-I/O session.
final class TLSLineClient {
    let plain: LineClient
    let session: TLSSession
    private var plaintext: [UInt8] = []

    /// Runs the handshake over `plain` (which has just received the server's go-ahead).
    init(over plain: LineClient) throws {
        self.plain = plain
        session = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false))
        while true {
            let result = session.handshake()
            try plain.send(session.takeNetworkOutput())
            switch result {
            case .complete: return
            case .failed(let error): throw error
            case .incomplete: session.receiveFromNetwork(try plain.readChunk())
            }
        }
    }

    func sendLine(_ line: String) throws {
        try send(Array((line + "\r\n").utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        try session.writePlaintext(bytes)
        try plain.send(session.takeNetworkOutput())
    }

    func readLine() throws -> String {
        while true {
            if let lf = plaintext.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(plaintext[..<lf])
                plaintext.removeFirst(lf + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            switch try session.readPlaintext(into: &plaintext) {
            case .bytes: continue
            case .closed: throw TestClientError("TLS closed")
            case .wantMore: session.receiveFromNetwork(try plain.readChunk())
            }
        }
    }

    /// Reads an SMTP reply (all lines) and returns its lines.
    func readSMTPReply() throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            if line.count < 4 || line[line.index(line.startIndex, offsetBy: 3)] == " " { return lines }
        }
    }
}

@Suite(.serialized) struct TLSLiveTests {
    static let python = ExternalTool.path("python3") != nil

    @Test func startTLSInjectionIsNeverAnswered() throws {
        let office = try TestPostOffice(tls: true)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        #expect(try client.readReply().code == 220)
        let ehlo = try client.command("EHLO client.test")
        #expect(ehlo.lines.contains("STARTTLS"))
        // The injected RSET rides in the same packet as STARTTLS, before the handshake.
        try client.connection.send("STARTTLS\r\nRSET\r\n")
        let ready = try client.readReply()
        #expect(ready.code == 220)
        let tls = try TLSLineClient(over: client.connection)
        try tls.sendLine("EHLO client.test")
        let reply = try tls.readSMTPReply()
        // The first thing said under TLS answers our EHLO, not the injected RSET.
        #expect(reply.first?.hasPrefix("250-") == true)
        #expect(!reply.contains { $0.contains("STARTTLS") }, "STARTTLS is not offered once TLS is active")
        try tls.sendLine("MAIL FROM:<a@example.net>")
        #expect(try tls.readSMTPReply() == ["250 2.1.0 Ok"])
    }

    @Test func commandsBeforeANewEHLOAreRefusedAfterStartTLS() throws {
        let office = try TestPostOffice(tls: true)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.command("STARTTLS").code == 220)
        let tls = try TLSLineClient(over: client.connection)
        try tls.sendLine("MAIL FROM:<a@example.net>")
        // RFC 3207 §4.2: the session starts over; MAIL needs a fresh EHLO.
        #expect(try tls.readSMTPReply().first?.hasPrefix("503 5.5.1") == true)
    }

    @Test func stlsInjectionIsNeverAnswered() throws {
        let office = try TestPostOffice(tls: true)
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.pop3Address)
        #expect(try client.readLine().hasPrefix("+OK"))
        try client.send("STLS\r\nCAPA\r\n")
        #expect(try client.readLine().hasPrefix("+OK"))
        let tls = try TLSLineClient(over: client)
        try tls.sendLine("USER alice@example.test")
        // Under TLS the first response answers USER; the injected CAPA was thrown away.
        #expect(try tls.readLine().hasPrefix("+OK"))
        try tls.sendLine("QUIT")
        #expect(try tls.readLine().hasPrefix("+OK"))
    }

    @Test func stlsIsNotOfferedUnderTLS() throws {
        let office = try TestPostOffice(tls: true)
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.pop3Address)
        _ = try client.readLine()
        try client.sendLine("STLS")
        #expect(try client.readLine().hasPrefix("+OK"))
        let tls = try TLSLineClient(over: client)
        try tls.sendLine("CAPA")
        var capabilities: [String] = []
        #expect(try tls.readLine().hasPrefix("+OK"))
        while true {
            let line = try tls.readLine()
            if line == "." { break }
            capabilities.append(line)
        }
        #expect(!capabilities.contains("STLS"))
        #expect(capabilities.contains("USER"))
        try tls.sendLine("STLS")
        #expect(try tls.readLine().hasPrefix("-ERR"))
    }

    @Test func cleartextPasswordIsRefusedNamingTLSThenAcceptedUnderSTLS() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true) {
            $0.allowsPlaintextAuthenticationOnLoopback = false
        }
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.pop3Address)
        _ = try client.readLine()
        try client.sendLine("USER alice@example.test")
        let refusal = try client.readLine()
        #expect(refusal.hasPrefix("-ERR [AUTH]"))
        #expect(refusal.contains("TLS"))
        try client.sendLine("STLS")
        #expect(try client.readLine().hasPrefix("+OK"))
        let tls = try TLSLineClient(over: client)
        try tls.sendLine("USER alice@example.test")
        #expect(try tls.readLine().hasPrefix("+OK"))
        try tls.sendLine("PASS pw")
        #expect(try tls.readLine().hasPrefix("+OK"))
    }

    @Test(.enabled(if: python, "python3 is not installed"))
    func pythonClientsOverSTARTTLSAndImplicitTLS() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let script = """
            import smtplib, poplib, ssl, sys
            host, smtp, smtps, pop3, pop3s = sys.argv[1], *map(int, sys.argv[2:6])
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            s = smtplib.SMTP(host, smtp); s.starttls(context=ctx)
            s.sendmail('a@example.net', ['alice@example.test'], b'Subject: starttls\\r\\n\\r\\nvia starttls\\r\\n'); s.quit()
            s = smtplib.SMTP_SSL(host, smtps, context=ctx); s.login('alice@example.test', 'pw')
            s.sendmail('alice@example.test', ['alice@example.test'], b'Subject: implicit\\r\\n\\r\\nvia smtps\\r\\n'); s.quit()
            p = poplib.POP3(host, pop3); p.stls(context=ctx); p.user('alice@example.test'); p.pass_('pw')
            print('stls', p.stat()[0]); p.quit()
            p = poplib.POP3_SSL(host, pop3s, context=ctx); p.user('alice@example.test'); p.pass_('pw')
            print('pop3s', p.stat()[0]); p.quit()
            """
        let result = try ExternalTool.python(script, [
            "127.0.0.1", String(office.smtpAddress.port), String(office.smtpsAddress!.port),
            String(office.pop3Address.port), String(office.pop3sAddress!.port),
        ])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.output.contains("stls 2"))
        #expect(result.output.contains("pop3s 2"))
        let stored = office.messages(for: "alice@example.test")
        #expect(stored.count == 2)
        // RFC 8314 §4.3 style: the Received: header names the TLS version and cipher; ESMTPS (RFC 3848).
        #expect(stored.allSatisfy { $0.contains("(using TLSv1.3") && $0.contains("with ESMTPS") })
    }

    @Test(.enabled(if: ExternalTool.path("swaks") != nil, "swaks is not installed"))
    func swaksWithSTARTTLSAndImplicitTLS() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let starttls = try ExternalTool.run("swaks", [
            "--server", "127.0.0.1", "--port", String(office.smtpAddress.port), "--tls",
            "--from", "a@example.net", "--to", "alice@example.test",
        ])
        #expect(starttls.status == 0, "\(starttls.output)")
        #expect(starttls.output.contains("TLS started"))
        let implicit = try ExternalTool.run("swaks", [
            "--server", "127.0.0.1", "--port", String(office.smtpsAddress!.port), "--tlsc",
            "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "pw",
            "--from", "alice@example.test", "--to", "alice@example.test",
        ])
        #expect(implicit.status == 0, "\(implicit.output)")
        #expect(office.messages(for: "alice@example.test").count == 2)
    }

    @Test(.enabled(if: ExternalTool.path("openssl") != nil, "openssl is not installed"))
    func opensslStartTLSForSMTPAndPOP3() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let smtp = try ExternalTool.run("openssl", [
            "s_client", "-quiet", "-connect", "127.0.0.1:\(office.smtpAddress.port)", "-starttls", "smtp",
        ], input: Data("EHLO openssl.test\r\nQUIT\r\n".utf8), timeoutSeconds: 20)
        #expect(smtp.output.contains("250-mx.test"), "\(smtp.output)\(smtp.errorOutput)")
        #expect(smtp.output.contains("221 2.0.0"))
        let pop3 = try ExternalTool.run("openssl", [
            "s_client", "-quiet", "-connect", "127.0.0.1:\(office.pop3Address.port)", "-starttls", "pop3",
        ], input: Data("USER alice@example.test\r\nPASS pw\r\nSTAT\r\nQUIT\r\n".utf8), timeoutSeconds: 20)
        #expect(pop3.output.contains("+OK Maildrop has 0 messages"), "\(pop3.output)\(pop3.errorOutput)")
    }

    @Test(.enabled(if: ExternalTool.path("mpop") != nil, "mpop is not installed"))
    func mpopWithSTLSAndImplicitTLS() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let sender = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try sender.readReply()
        _ = try sender.command("EHLO x")
        #expect(try sender.sendMail(from: "a@example.net", to: ["alice@example.test"], body: "Subject: for mpop\n\nhi\n").code == 250)
        for (port, starttls) in [(office.pop3Address.port, "on"), (office.pop3sAddress!.port, "off")] {
            let mbox = office.dataDirectory + "/mpop-\(port).mbox"
            _ = FileManager.default.createFile(atPath: mbox, contents: nil)
            let result = try ExternalTool.run("mpop", [
                "-C", "/dev/null", "--host=127.0.0.1", "--port=\(port)", "--tls=on", "--tls-starttls=\(starttls)",
                "--tls-certcheck=off", "--auth=user", "--user=alice@example.test", "--passwordeval=echo pw",
                "--keep=on", "--only-new=off", "--delivery=mbox,\(mbox)",
            ])
            #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
            let text = (try? String(contentsOfFile: mbox, encoding: .utf8)) ?? ""
            #expect(text.contains("Subject: for mpop"))
        }
    }

    @Test(.enabled(if: ExternalTool.path("fetchmail") != nil, "fetchmail is not installed"))
    func fetchmailWithSSLProto() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let sender = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try sender.readReply()
        _ = try sender.command("EHLO x")
        #expect(try sender.sendMail(from: "a@example.net", to: ["alice@example.test"], body: "Subject: for fetchmail\n\nhi\n").code == 250)
        let out = office.dataDirectory + "/fetched.txt"
        let rc = office.dataDirectory + "/fetchmailrc"
        try """
            poll 127.0.0.1 port \(office.pop3Address.port) protocol pop3
              user "alice@example.test" password "pw" sslproto "TLS1.2+" no sslcertck keep
              mda "cat >> \(out)"
            """.write(toFile: rc, atomically: true, encoding: .utf8)
        chmod(rc, 0o600)
        let result = try ExternalTool.run(
            "fetchmail", ["-f", rc, "--nodetach", "--nosyslog", "-v"],
            environment: ["HOME": office.dataDirectory, "FETCHMAILHOME": office.dataDirectory])
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        #expect(result.output.contains("TLS") || result.errorOutput.contains("TLS") || result.errorOutput.contains("SSL"))
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(text.contains("Subject: for fetchmail"))
    }
}
