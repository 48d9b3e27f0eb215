// ServerRuntimeTests: behaviour of the server runtime itself — the greeting delay against early talkers,
// tmp/ clean-up of crashed deliveries at start-up, and bound ports for port 0.

import Foundation
import PostOfficeMaildir
import PostOfficeTesting
import Testing

@Suite(.serialized) struct ServerRuntimeTests {
    @Test func earlyTalkerGets554AndIsClosed() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) {
            $0.limits.smtpGreetingDelayMilliseconds = 300
        }
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.smtpAddress)
        try client.send("EHLO early.example\r\n")
        let reply = try client.readLine()
        #expect(reply.hasPrefix("554 5.5.1"))
        #expect(client.readToEnd().isEmpty)
    }

    @Test func patientClientIsGreetedAfterTheDelay() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) {
            $0.limits.smtpGreetingDelayMilliseconds = 100
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        #expect(try client.readReply().code == 220)
        #expect(try client.command("EHLO patient.example").code == 250)
    }

    @Test func startUpRemovesOrphansOfDeadProcessesOnly() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        let maildirPath = try #require(office.server.maildirPath(for: MailAddress("alice@example.test")!))
        let dataDirectory = office.dataDirectory
        let configuration = office.server.configuration
        office.server.shutdown()
        let maildir = Maildir(path: maildirPath)
        try maildir.create()
        let host = MaildirUniqueNameGenerator.escape(hostname: configuration.hostname)
        // pid 999999999 cannot exist (pid_max is far lower); our own pid is alive.
        let orphan = "1700000000.M1P999999999Q1.\(host)"
        let live = "1700000000.M1P\(getpid())Q1.\(host)"
        let foreign = "1700000000.M1P999999999Q1.other.host"
        for name in [orphan, live, foreign] {
            _ = FileManager.default.createFile(atPath: maildir.tmpPath + "/" + name, contents: Data("partial".utf8))
        }
        let restarted = try PostOfficeServer(configuration: configuration)
        try restarted.start()
        defer {
            restarted.shutdown()
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        var left: Set<String> = []
        for _ in 0..<200 {
            left = Set((try? FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath)) ?? [])
            if !left.contains(orphan) { break }
            usleep(10_000)
        }
        #expect(left == [live, foreign])
    }

    @Test func portZeroReportsTheBoundPorts() throws {
        let office = try TestPostOffice()
        defer { office.stop() }
        #expect(office.smtpAddress.port != 0)
        #expect(office.pop3Address.port != 0)
        #expect(office.smtpAddress.port != office.pop3Address.port)
    }
}

@Suite struct PolicyHookTests {
    final class Seen: @unchecked Sendable {
        let lock = NSLock()
        var helos: [String] = []
    }

    @Test func senderAndRecipientHooksSeeTheEnvelopeAndDecide() throws {
        let seen = Seen()
        var hooks = PostOfficeHooks()
        hooks.checkSender = { request in
            seen.lock.withLock { seen.helos.append(request.heloName) }
            return request.reversePath?.localPart == "spammer"
                ? .reject(code: 550, enhancedCode: "5.7.1", text: "Sender refused") : .accept
        }
        hooks.checkRecipient = { request in
            seen.lock.withLock { seen.helos.append(request.heloName) }
            return .useDefault
        }
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: hooks)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.example")
        let refused = try client.command("MAIL FROM:<spammer@example.net>")
        #expect(refused.code == 550)
        #expect(refused.enhancedCode == "5.7.1")
        #expect(try client.command("MAIL FROM:<friend@example.net>").code == 250)
        #expect(try client.command("RCPT TO:<alice@example.test>").code == 250)
        #expect(seen.lock.withLock { seen.helos } == ["client.example", "client.example", "client.example"])
    }
}
