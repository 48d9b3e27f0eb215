// OutboundQueueingTests: issue 14's acceptance half — with outbound delivery on, mail for other domains is
// committed to the queue before the 250, with a Received: header and the DSN parameters, and a message
// with local and remote recipients is delivered to the Maildirs and queued, both before the reply.

import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing

@Suite struct OutboundQueueingTests {
    private func queued(_ office: TestPostOffice) throws -> [QueueMessage] {
        let store = try QueueStore(
            path: office.server.configuration.queueDirectory, clock: SystemClock(), random: SystemRandomSource(),
            logSink: DiscardingLogSink())
        return try store.scan()
    }

    @Test func aSubmittedMessageForAnotherDomainIsQueuedBeforeThe250() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"]) { $0.deliversOutbound = true }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        _ = try client.login("alice@example.test", password: "pw")
        #expect(try client.command("MAIL FROM:<alice@example.test> RET=HDRS ENVID=abc").code == 250)
        #expect(try client.command("RCPT TO:<friend@elsewhere.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;friend@elsewhere.test").code == 250)
        #expect(try client.command("RCPT TO:<bob@example.test>").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("Subject: out and in\n\nhello both\n"))
        #expect(try client.readReply().code == 250)
        // The reply came after both copies were durable: nothing to wait for.
        let messages = try queued(office)
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        #expect(message.envelope.reversePath == MailAddress("alice@example.test"))
        #expect(message.envelope.recipients.map(\.address) == [MailAddress("friend@elsewhere.test")!])
        #expect(message.envelope.recipients.first?.notify == "SUCCESS,FAILURE")
        #expect(message.envelope.recipients.first?.originalRecipient == "rfc822;friend@elsewhere.test")
        #expect(message.envelope.envelopeID == "abc")
        #expect(message.envelope.returnContent == "HDRS")
        #expect(message.envelope.isLocalSender)
        let store = try QueueStore(
            path: office.server.configuration.queueDirectory, clock: SystemClock(), random: SystemRandomSource(),
            logSink: DiscardingLogSink())
        let body = String(decoding: try store.openBody(message.id).readAll(), as: UTF8.self)
        #expect(body.hasPrefix("Received: from client.test"))
        #expect(body.contains("with ESMTPA"))
        #expect(!body.contains("Return-Path:"))
        #expect(body.contains("\r\nSubject: out and in\r\n\r\nhello both\r\n"))
        #expect(office.messages(for: "bob@example.test").count == 1)
    }

    @Test func portTwentyFiveStillRefusesRelaying() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.deliversOutbound = true }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        _ = try client.command("MAIL FROM:<spammer@example.net>")
        let reply = try client.command("RCPT TO:<victim@elsewhere.test>")
        #expect(reply.code == 550)
        #expect(reply.enhancedCode == "5.7.1")
        #expect(try queued(office).isEmpty)
    }

    @Test func aTrustedNetworkMayRelayWithoutAuthentication() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayNetworks = [NetworkRange("127.0.0.0/8")!]
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO webserver.test")
        let reply = try client.sendMail(from: "www@example.test", to: ["customer@elsewhere.test"], body: "Subject: order\n\nthanks\n")
        #expect(reply.code == 250)
        #expect(try queued(office).count == 1)
    }
}

@Suite struct SubmissionCompletionTests {
    private func storedAfterSubmitting(_ body: String) throws -> String {
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"])
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        _ = try client.login("alice@example.test", password: "pw")
        #expect(try client.sendMail(from: "alice@example.test", to: ["bob@example.test"], body: body).code == 250)
        return try office.waitForMessage(for: "bob@example.test")
    }

    /// RFC 6409 §8.2–8.3: a submission server adds Date: and Message-ID: when the client left them out.
    @Test func missingDateAndMessageIDAreAdded() throws {
        let stored = try storedAfterSubmitting("Subject: bare\n\nno date, no id\n")
        #expect(stored.contains("\nDate: "))
        #expect(stored.contains("\nMessage-ID: <"))
        #expect(stored.contains("@mx.test>"))
    }

    @Test func presentOnesAreKeptAndNotDoubled() throws {
        let stored = try storedAfterSubmitting(
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <mine@client.test>\nSubject: complete\n\nbody\n")
        #expect(stored.components(separatedBy: "\nDate: ").count == 2)
        #expect(stored.components(separatedBy: "Message-ID: ").count == 2)
        #expect(stored.contains("Message-ID: <mine@client.test>"))
    }

    /// relay_domains: a backup MX accepts mail for the domain from anyone on port 25 and queues it.
    @Test func aRelayDomainIsAcceptedFromAnyoneAndQueued() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.deliversOutbound = true
            configuration.relayDomains = ["backup.test"]
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO other-mta.test")
        let reply = try client.sendMail(from: "someone@example.net", to: ["user@backup.test"], body: "Subject: held for backup\n\nx\n")
        #expect(reply.code == 250)
        #expect(try client.command("MAIL FROM:<someone@example.net>").code == 250)
        #expect(try client.command("RCPT TO:<user@unrelated.test>").code == 550)
        let store = try QueueStore(
            path: office.server.configuration.queueDirectory, clock: SystemClock(), random: SystemRandomSource(),
            logSink: DiscardingLogSink())
        #expect(try store.scan().count == 1)
    }
}
