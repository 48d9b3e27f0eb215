// LiveSMTPClientTests: the client engine over a real loopback socket against Postfix's smtp-sink (127.0.0.2):
// pipelined delivery of two messages on one connection, dot-stuffing as a real server reads it, 5xx RCPT.

import Foundation
import PostOfficeCore
import PostOfficeSMTPClient
import Testing

@Suite(.enabled(if: LoopbackSMTPSink.isAvailable, "smtp-sink (Debian package postfix) is not installed"))
struct LiveSMTPClientTests {
    static let configuration = SMTPClientConfiguration(clientName: "client.example.org")

    @Test func twoMessagesOnOneConnectionArriveUnstuffed() throws {
        let sink = try LoopbackSMTPSink()
        let body = "Subject: live\n\n.leading dot\n..two\nend\n"
        let results = runClientSession(
            fd: try sink.connect(), configuration: Self.configuration,
            messages: [(.to("bob", "carol"), body), (.to("dave", isEightBit: true), "Subject: 2\n\ncaf\u{E9}\n")])
        let messages = results.compactMap { if case .messageResult(let r) = $0 { r } else { nil } }
        let recipients = results.compactMap { if case .recipientResult(let r) = $0 { r } else { nil } }
        #expect(messages.map(\.disposition) == [.delivered, .delivered])
        #expect(recipients.map(\.result.disposition) == [.delivered, .delivered, .delivered])
        #expect(!results.contains { if case .sessionFailed = $0 { true } else { false } })
        // smtp-sink writes the dump when the session ends; give it a moment.
        var dump = ""
        for _ in 0..<50 where !dump.contains("caf") {
            dump = sink.dump
            if !dump.contains("caf") { usleep(100_000) }
        }
        #expect(dump.contains("\n.leading dot\r\n..two\r\nend\r\n") || dump.contains("\n.leading dot\n..two\nend\n"))
        #expect(dump.contains("BODY=8BITMIME") || dump.contains("caf\u{E9}"))
    }

    @Test func refusedRecipientsFailAndTheMessageIsNotSent() throws {
        let sink = try LoopbackSMTPSink(options: ["-f", "RCPT"])
        let results = runClientSession(
            fd: try sink.connect(), configuration: Self.configuration, messages: [(.to("bob"), "x\n")])
        let recipients = results.compactMap { if case .recipientResult(let r) = $0 { r } else { nil } }
        #expect(recipients.map(\.result.disposition) == [.failed])
        #expect(recipients.first?.result.reply?.code == 500)
    }
}
