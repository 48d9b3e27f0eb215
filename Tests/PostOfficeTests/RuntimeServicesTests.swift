// RuntimeServicesTests: the two-way runtime's promises, live over loopback — a blocking embedder hook stalls
// only its own session, postmaster of every local domain is accepted and delivered, a hook can ask for a
// relay, POP3 logins go through the same checked Maildir path as delivery, and the connection cap follows
// the descriptor limit.

import Dispatch
import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct RuntimeServicesTests {
    /// Issue 12: a hook that blocks must not stall the event loop. The hook holds its session until the test
    /// has served six other sessions (greeting and NOOP each); on an event loop it would hold the sessions
    /// sharing that loop too, and they would time out instead.
    @Test func aBlockingRecipientHookDoesNotDelayOtherSessions() throws {
        let released = DispatchSemaphore(value: 0)
        var hooks = PostOfficeHooks()
        hooks.checkRecipient = { request in
            guard request.recipient.localPart == "slow" else { return .useDefault }
            let served = released.wait(timeout: .now() + 20) == .success
            return served
                ? .accept(mailbox: MailAddress("alice@example.test")!)
                : .reject(code: 451, enhancedCode: "4.3.0", text: "other sessions were not served")
        }
        let office = try TestPostOffice(hooks: hooks)
        defer { office.stop() }
        let slow = try SMTPTestClient(connectingTo: office.smtpAddress)
        #expect(try slow.readReply().code == 220)
        #expect(try slow.command("EHLO client.test").code == 250)
        #expect(try slow.command("MAIL FROM:<sender@example.net>").code == 250)
        try slow.connection.sendLine("RCPT TO:<slow@example.test>")
        for _ in 0..<6 {
            let other = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: 5)
            #expect(try other.readReply().code == 220)
            #expect(try other.command("NOOP").code == 250)
            _ = try other.command("QUIT")
        }
        released.signal()
        #expect(try slow.readReply().code == 250)
        #expect(try slow.command("DATA").code == 354)
        try slow.connection.send(SMTPTestClient.stuffed("Subject: slow\n\nheld by a hook\n"))
        #expect(try slow.readReply().code == 250)
        #expect(try office.waitForMessage(for: "alice@example.test").contains("held by a hook"))
    }

    /// A sender hook runs off the loop too, and its refusal still reaches the client in order.
    @Test func aBlockingSenderHookAnswersInOrder() throws {
        var hooks = PostOfficeHooks()
        hooks.checkSender = { request in
            usleep(50_000)
            return request.reversePath?.localPart == "spammer"
                ? .reject(code: 550, enhancedCode: "5.7.1", text: "Sender refused") : .accept
        }
        let office = try TestPostOffice(hooks: hooks)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        // Pipelined: the replies come back in command order although the first one waits on the hook.
        try client.connection.send(Array("EHLO c\r\nMAIL FROM:<spammer@example.net>\r\nRSET\r\nMAIL FROM:<ok@example.net>\r\nNOOP\r\n".utf8))
        let codes = try (0..<5).map { _ in try client.readReply() }.map(\.code)
        #expect(codes == [250, 550, 250, 250, 250])
    }

    /// RFC 5321 §4.5.1: `postmaster` (any case, with or without a local domain) is accepted and delivered to
    /// `postmaster_address`, although no user of that name exists.
    @Test(arguments: ["postmaster", "PostMaster", "postmaster@example.test", "POSTMASTER@Example.Test"])
    func postmasterIsAcceptedForEveryLocalDomain(_ recipient: String) throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.postmasterAddress = MailAddress("alice@example.test")
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        let reply = try client.sendMail(from: "sender@example.net", to: [recipient], body: "Subject: to the postmaster\n\nhello\n")
        #expect(reply.code == 250, "\(reply)")
        #expect(try office.waitForMessage(for: "alice@example.test").contains("to the postmaster"))
    }

    /// An embedder's recipient hook can say "relay": until the outbound queue exists that is a 451 4.3.0 that
    /// says why, not a silent loss or a bounce.
    @Test func aRelayDecisionIsATemporaryRefusalUntilTheQueueExists() throws {
        var hooks = PostOfficeHooks()
        hooks.checkRecipient = { request in request.recipient.normalizedDomain == "elsewhere.test" ? .relay : .useDefault }
        let office = try TestPostOffice(hooks: hooks)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.command("MAIL FROM:<a@example.test>").code == 250)
        let reply = try client.command("RCPT TO:<bob@elsewhere.test>")
        #expect(reply.code == 451)
        #expect(reply.enhancedCode == "4.3.0")
        #expect(reply.lines.joined().contains("outbound delivery is off"))
    }

    /// Issue 12 item 6 and issue 19 D2: POP3 opens the same checked Maildir as delivery, so a login whose
    /// Maildir is a symbolic link to another user's (kate -> alice) is refused and shows none of alice's mail.
    @Test func aPOP3LoginWhoseMaildirIsASymbolicLinkIsRefused() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "kate@example.test": "pw"])
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.sendMail(from: "s@example.net", to: ["alice@example.test"], body: "Subject: private\n\nfor alice\n").code == 250)
        let alice = try #require(office.server.maildirPath(for: MailAddress("alice@example.test")!))
        let kate = (alice as NSString).deletingLastPathComponent + "/kate"
        try? FileManager.default.removeItem(atPath: kate)
        try FileManager.default.createSymbolicLink(atPath: kate, withDestinationPath: alice)
        #expect(office.server.maildirPath(for: MailAddress("kate@example.test")!) == nil)
        let pop = try POP3TestClient(connectingTo: office.pop3Address)
        #expect(try pop.command("USER kate@example.test").hasPrefix("+OK"))
        let answer = try pop.command("PASS pw")
        #expect(answer.hasPrefix("-ERR"), "\(answer)")
    }

    /// Issue 19: "loopback" trust is a setting that names networks. With loopback removed from
    /// plaintext_auth_networks (a local proxy forwards outside clients), a loopback client cannot send a
    /// password without TLS; with it listed, it can.
    @Test(arguments: [true, false])
    func plaintextLoginFollowsTheTrustedNetworks(_ trustsLoopback: Bool) throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.plaintextAuthenticationNetworks = trustsLoopback ? NetworkRange.loopback : []
        }
        defer { office.stop() }
        let pop = try POP3TestClient(connectingTo: office.pop3Address)
        let user = try pop.command("USER alice@example.test")
        #expect(user.hasPrefix("+OK") == trustsLoopback, "\(user)")
    }

    /// Issue 18.9: every refusal is logged with the client's address, size refusals (552) included.
    @Test func refusalsAreLoggedWithTheClient() throws {
        let log = CollectingLogSink()
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], logSink: log) { $0.limits.maximumMessageSize = 1000 }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.command("MAIL FROM:<a@example.net> SIZE=5000").code == 552)
        let refusals = log.records.filter { $0.event == "smtp.refusal" }
        #expect(refusals.contains { record in
            record.fields.contains { $0.0 == "code" && $0.1 == "552" } && record.fields.contains { $0.0 == "client" && $0.1 == "127.0.0.1" }
        }, "\(refusals)")
    }
}

/// Keeps every log record, for tests that check what was logged.
final class CollectingLogSink: LogSink, @unchecked Sendable {
    private let lock = Lock()
    private var kept: [LogRecord] = []
    func log(_ record: LogRecord) { lock.withLock { kept.append(record) } }
    var records: [LogRecord] { lock.withLock { kept } }
}
