// SubmissionTests: issue 13 over a live server — the submission service (RFC 6409) with SMTP AUTH (RFC 4954):
// AUTH required before MAIL, PLAIN and LOGIN, the failure answer, sender ownership, the per-user brakes, no
// AUTH on port 25, AUTH only under TLS off the trusted networks, and real clients (swaks, msmtp, smtplib).

import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeTesting
import Testing

@Suite struct SubmissionTests {
    private func session(_ address: SocketAddress) throws -> SMTPTestClient {
        let client = try SMTPTestClient(connectingTo: address)
        #expect(try client.readReply().code == 220)
        return client
    }

    @Test func submissionRequiresAuthenticationThenDeliversWithESMTPA() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw2"])
        defer { office.stop() }
        let client = try session(office.submissionAddress)
        let ehlo = try client.command("EHLO client.test")
        #expect(ehlo.lines.contains("AUTH PLAIN LOGIN"), "\(ehlo)")
        let early = try client.command("MAIL FROM:<alice@example.test>")
        #expect(early.code == 530)
        #expect(early.enhancedCode == "5.7.0")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        let reply = try client.sendMail(from: "alice@example.test", to: ["bob@example.test"], body: "Subject: submitted\n\nhi bob\n")
        #expect(reply.code == 250, "\(reply)")
        let stored = try office.waitForMessage(for: "bob@example.test")
        #expect(stored.contains("with ESMTPA"))
    }

    @Test func theLoginExchangeWorksStepByStep() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let client = try session(office.submissionAddress)
        _ = try client.command("EHLO client.test")
        #expect(try client.command("AUTH LOGIN").lines == ["VXNlcm5hbWU6"])
        #expect(try client.command("YWxpY2VAZXhhbXBsZS50ZXN0").lines == ["UGFzc3dvcmQ6"])
        #expect(try client.command("cHc=").code == 235)
    }

    /// A wrong password and an unknown user get the same answer (no user enumeration), 535 5.7.8.
    @Test(arguments: [("alice@example.test", "wrong"), ("nobody@example.test", "pw")])
    func failedLoginsLookTheSame(_ user: String, _ password: String) throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let client = try session(office.submissionAddress)
        _ = try client.command("EHLO client.test")
        let reply = try client.login(user, password: password)
        #expect(reply.code == 535)
        #expect(reply.enhancedCode == "5.7.8")
    }

    /// RFC 6409 §6.1: the envelope sender must be the user's own address or an alias of theirs.
    @Test func theSenderMustBeAnAddressTheUserOwns() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw2"])
        defer { office.stop() }
        try "sales@example.test: alice@example.test\n".write(
            toFile: office.server.configuration.aliasesFile, atomically: true, encoding: .utf8)
        try office.server.reloadAccounts()
        let client = try session(office.submissionAddress)
        _ = try client.command("EHLO client.test")
        _ = try client.login("alice@example.test", password: "pw")
        let foreign = try client.command("MAIL FROM:<bob@example.test>")
        #expect(foreign.code == 553)
        #expect(foreign.enhancedCode == "5.7.1")
        #expect(try client.command("MAIL FROM:<sales@example.test>").code == 250)
        _ = try client.command("RSET")
        #expect(try client.command("MAIL FROM:<alice@example.test>").code == 250)
    }

    /// Authenticated users may address any domain; until the outbound queue exists that is 451 4.3.0.
    @Test func anAuthenticatedUserMayAddressOtherDomains() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let client = try session(office.submissionAddress)
        _ = try client.command("EHLO client.test")
        _ = try client.login("alice@example.test", password: "pw")
        _ = try client.command("MAIL FROM:<alice@example.test>")
        let reply = try client.command("RCPT TO:<friend@elsewhere.test>")
        #expect(reply.code == 451)
        #expect(reply.enhancedCode == "4.3.0")
    }

    /// Port 25 offers no AUTH unless asked to: other servers never log in.
    @Test(arguments: [false, true])
    func portTwentyFiveOffersAuthenticationOnlyWhenConfigured(_ offers: Bool) throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.offersAuthenticationOnSMTP = offers }
        defer { office.stop() }
        let client = try session(office.smtpAddress)
        let ehlo = try client.command("EHLO client.test")
        #expect(ehlo.lines.contains("AUTH PLAIN LOGIN") == offers)
    }

    /// Off the trusted networks, AUTH is neither advertised nor accepted before TLS (538 5.7.11).
    @Test func authenticationWaitsForTLSOffTheTrustedNetworks() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.plaintextAuthenticationNetworks = [] }
        defer { office.stop() }
        let client = try session(office.submissionAddress)
        let ehlo = try client.command("EHLO client.test")
        #expect(!ehlo.lines.contains { $0.hasPrefix("AUTH") })
        let reply = try client.login("alice@example.test", password: "pw")
        #expect(reply.code == 538)
        #expect(reply.enhancedCode == "5.7.11")
    }

    /// A stolen password sends a bounded amount: past submission_messages_per_hour, 450 4.7.1.
    @Test func perUserMessageLimit() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.submissionMessagesPerHour = 2 }
        defer { office.stop() }
        let client = try session(office.submissionAddress)
        _ = try client.command("EHLO client.test")
        _ = try client.login("alice@example.test", password: "pw")
        for _ in 0..<2 {
            #expect(try client.sendMail(from: "alice@example.test", to: ["alice@example.test"], body: "Subject: x\n\nx\n").code == 250)
        }
        let third = try client.command("MAIL FROM:<alice@example.test>")
        #expect(third.code == 450)
        #expect(third.enhancedCode == "4.7.1")
    }

    @Test(.enabled(if: ExternalTool.path("swaks") != nil, "swaks is not installed"), arguments: ["PLAIN", "LOGIN"])
    func swaksSubmitsWithSTARTTLSAndAuth(_ mechanism: String) throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let result = try ExternalTool.run("swaks", [
            "--server", "127.0.0.1", "--port", String(office.submissionAddress.port), "--tls",
            "--auth", mechanism, "--auth-user", "alice@example.test", "--auth-password", "pw",
            "--from", "alice@example.test", "--to", "alice@example.test", "--header", "Subject: via swaks \(mechanism)",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(try office.waitForMessage(for: "alice@example.test").contains("via swaks \(mechanism)"))
    }

    @Test(.enabled(if: ExternalTool.path("swaks") != nil, "swaks is not installed"))
    func swaksSubmitsOverImplicitTLS() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let result = try ExternalTool.run("swaks", [
            "--server", "127.0.0.1", "--port", String(try #require(office.smtpsAddress).port), "--tlsc",
            "--auth", "LOGIN", "--auth-user", "alice@example.test", "--auth-password", "pw",
            "--from", "alice@example.test", "--to", "alice@example.test", "--header", "Subject: via 465",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(try office.waitForMessage(for: "alice@example.test").contains("with ESMTPSA"))
    }

    /// Thunderbird's settings, as the README gives them: STARTTLS on the submission port, normal password.
    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func smtplibLogsInOverSTARTTLS() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let script = """
            import smtplib, ssl, sys
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            s = smtplib.SMTP(sys.argv[1], int(sys.argv[2])); s.starttls(context=ctx); s.login('alice@example.test', 'pw')
            s.sendmail('alice@example.test', ['alice@example.test'], b'Subject: smtplib login\\r\\n\\r\\nhello\\r\\n'); s.quit()
            """
        let result = try ExternalTool.python(script, ["127.0.0.1", String(office.submissionAddress.port)])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(try office.waitForMessage(for: "alice@example.test").contains("smtplib login"))
    }

    @Test(.enabled(if: ExternalTool.path("msmtp") != nil, "msmtp is not installed"))
    func msmtpSubmitsWithAuth() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], tls: true)
        defer { office.stop() }
        let result = try ExternalTool.run("msmtp", [
            "--host=127.0.0.1", "--port=\(office.submissionAddress.port)", "--tls=on", "--tls-starttls=on",
            "--tls-certcheck=off", "--auth=plain", "--user=alice@example.test", "--passwordeval=echo pw",
            "--from=alice@example.test", "alice@example.test",
        ], input: Data("Subject: via msmtp\n\nhello\n".utf8))
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        #expect(try office.waitForMessage(for: "alice@example.test").contains("via msmtp"))
    }

    /// A hook that cannot decide (its user database is down) throws: SMTP AUTH gets 454 4.7.0 and POP3
    /// `-ERR [SYS/TEMP]` instead of a wrong-password answer, and such attempts are not failures for the
    /// throttle (more of them than failed_logins_per_minute, then a good login still works).
    @Test func aHookThatCannotDecideGivesATemporaryFailure() throws {
        let databaseIsDown = LockedBox(true)
        var hooks = PostOfficeHooks()
        hooks.authenticate = { request in
            if databaseIsDown.value { throw TestClientError("user database down") }
            return request.password == "pw" ? MailAddress("alice@example.test") : nil
        }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: hooks)
        defer { office.stop() }
        for _ in 0..<12 {
            let client = try session(office.submissionAddress)
            _ = try client.command("EHLO client.test")
            let reply = try client.login("alice@example.test", password: "pw")
            #expect(reply.code == 454, "\(reply)")
            #expect(reply.enhancedCode == "4.7.0")
        }
        let pop3 = try POP3TestClient(connectingTo: office.pop3Address)
        _ = try pop3.command("USER alice@example.test")
        let refused = try pop3.command("PASS pw")
        #expect(refused.hasPrefix("-ERR [SYS/TEMP] "), "\(refused)")

        databaseIsDown.update { $0 = false }
        let client = try session(office.submissionAddress)
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
    }

    /// Abuse: a password guesser gets the same 535 every time, but past failed_logins_per_minute (10) its
    /// guesses no longer reach the password check at all.
    @Test func guessingIsThrottledBeforeThePasswordCheck() throws {
        let checks = LockedBox(0)
        var hooks = PostOfficeHooks()
        hooks.authenticate = { request in
            checks.update { $0 += 1 }
            return request.password == "right" ? MailAddress("alice@example.test") : nil
        }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: hooks)
        defer { office.stop() }
        for attempt in 0..<15 {
            let client = try session(office.submissionAddress)
            _ = try client.command("EHLO client.test")
            let reply = try client.login("alice@example.test", password: "guess\(attempt)")
            #expect(reply.code == 535)
            #expect(reply.enhancedCode == "5.7.8")
        }
        #expect(checks.value == 10)
        // The right password is refused too while the client is throttled: guessing gains nothing.
        let client = try session(office.submissionAddress)
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "right").code == 535)
        #expect(checks.value == 10)
    }
}
