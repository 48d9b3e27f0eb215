// RealClientSMTPTests: SMTP clients that others wrote (Python's smtplib, swaks, msmtp, Postfix's
// smtp-source) against a live loopback server, checking the exact bytes stored in the Maildir.

import Foundation
import PostOfficeTesting
import Testing

@Suite(.serialized) struct RealClientSMTPTests {
    /// The stored file minus our trace headers (Return-Path, Delivered-To, Received and its folded lines).
    static func strippingTrace(_ stored: String) -> String {
        var lines = stored.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var inReceived = false
        while let first = lines.first {
            if first.hasPrefix("Return-Path:") || first.hasPrefix("Delivered-To:") {
                inReceived = false
                lines.removeFirst()
            } else if first.hasPrefix("Received:") {
                inReceived = true
                lines.removeFirst()
            } else if inReceived && (first.hasPrefix(" ") || first.hasPrefix("\t")) {
                lines.removeFirst()
            } else {
                break
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func pythonSmtplibStoresTheBodyByteForByte() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"])
        defer { office.stop() }
        let body = "Subject: smtplib\r\nFrom: carol@example.net\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\nlast line\r\n"
        let script = """
            import smtplib, sys
            s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname='client.example.net')
            s.ehlo()
            assert s.has_extn('pipelining') and s.has_extn('8bitmime') and s.has_extn('size'), s.esmtp_features
            refused = s.sendmail('carol@example.net', ['alice@example.test', 'bob@example.test'], sys.stdin.buffer.read())
            assert refused == {}, refused
            code, _ = s.quit()
            print(code)
            """
        let result = try ExternalTool.python(
            script, [office.smtpAddress.host, String(office.smtpAddress.port)], input: Data(body.utf8))
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == "221")
        let expected = body.replacingOccurrences(of: "\r\n", with: "\n")
        for user in ["alice@example.test", "bob@example.test"] {
            let stored = try office.waitForMessage(for: user)
            #expect(Self.strippingTrace(stored) == expected)
            #expect(stored.hasPrefix("Return-Path: <carol@example.net>\n"))
            #expect(stored.contains("Delivered-To: \(user)\n"))
            #expect(stored.contains("client.example.net"))
            #expect(!stored.contains("\r"))
        }
    }

    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func pythonSmtplibSeesTheRightRefusals() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let script = """
            import smtplib, sys
            s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]))
            s.ehlo()
            s.mail('x@example.net')
            print(s.rcpt('nobody@example.test'))
            print(s.rcpt('victim@elsewhere.example'))
            print(s.rcpt('alice@example.test'))
            s.quit()
            """
        let result = try ExternalTool.python(script, [office.smtpAddress.host, String(office.smtpAddress.port)])
        #expect(result.status == 0, "\(result.errorOutput)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.first?.hasPrefix("(550, b'5.1.1") == true)
        #expect(lines.dropFirst().first?.hasPrefix("(550, b'5.7.1") == true)
        #expect(lines.last?.hasPrefix("(250, b'2.1.5") == true)
    }

    @Test(.enabled(if: ExternalTool.path("swaks") != nil, "swaks is not installed"))
    func swaksDeliversWithPipelining() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let result = try ExternalTool.run("swaks", [
            "--server", office.smtpAddress.host, "--port", String(office.smtpAddress.port),
            "--from", "sender@example.net", "--to", "alice@example.test", "--pipeline",
            "--header", "Subject: swaks test", "--body", "Hello from swaks\n.dot line",
        ])
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        let stored = try office.waitForMessage(for: "alice@example.test")
        #expect(stored.contains("Subject: swaks test\n"))
        #expect(stored.contains("Hello from swaks\n.dot line"))
    }

    @Test(.enabled(if: ExternalTool.path("msmtp") != nil, "msmtp is not installed"))
    func msmtpDelivers() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let message = "From: m@example.net\nTo: alice@example.test\nSubject: msmtp\n\nbody via msmtp\n"
        let result = try ExternalTool.run("msmtp", [
            "--host=\(office.smtpAddress.host)", "--port=\(office.smtpAddress.port)", "--auth=off", "--tls=off",
            "--from=m@example.net", "alice@example.test",
        ], input: Data(message.utf8))
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        let stored = Self.strippingTrace(try office.waitForMessage(for: "alice@example.test"))
        // msmtp adds Date: and Message-ID: of its own; the rest must be as sent.
        #expect(stored.hasSuffix("From: m@example.net\nTo: alice@example.test\nSubject: msmtp\n\nbody via msmtp\n"))
        #expect(!stored.contains("\r"))
    }

    @Test(.enabled(if: ExternalTool.path("smtp-source") != nil, "smtp-source (postfix) is not installed"))
    func smtpSourceLoadDeliversEveryMessageExactlyOnce() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let count = 10_000
        let result = try ExternalTool.run("smtp-source", [
            "-s", "50", "-m", String(count), "-l", "1024", "-f", "load@example.net", "-t", "alice@example.test",
            "\(office.smtpAddress.host):\(office.smtpAddress.port)",
        ], timeoutSeconds: 600)
        #expect(result.status == 0, "\(result.errorOutput)")
        let stored = office.messages(for: "alice@example.test")
        #expect(stored.count == count)
        #expect(stored.allSatisfy { $0.hasPrefix("Return-Path: <load@example.net>") })
    }
}
