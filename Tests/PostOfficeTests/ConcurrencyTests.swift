// ConcurrencyTests: twenty mailboxes pulled by twenty POP3 clients at once while SMTP clients deliver into
// them. Every message must be retrieved exactly once across all sessions: none lost, none duplicated.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct ConcurrencyTests {
    static let mailboxCount = 20
    static let messagesPerMailbox = 5
    static let senderCount = 4

    static func mailbox(_ index: Int) -> String { "user\(index)@example.test" }

    /// Runs `body` on `count` threads at once and waits for all of them.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
    }

    @Test func everyMessageIsRetrievedExactlyOnceWhileDeliveriesContinue() throws {
        var users: [String: String] = [:]
        for index in 0..<Self.mailboxCount { users[Self.mailbox(index)] = "pw\(index)" }
        let office = try TestPostOffice(users: users)
        defer { office.stop() }
        let total = Self.mailboxCount * Self.messagesPerMailbox
        let sendFailures = LockedBox<[String]>([])
        let pullFailures = LockedBox<[String]>([])
        /// Every token retrieved, with the mailbox it was retrieved from (duplicates kept, to be counted).
        let retrieved = LockedBox<[(token: String, mailbox: Int)]>([])
        let sendersDone = LockedBox(false)
        let pop3Address = office.pop3Address
        let smtpAddress = office.smtpAddress

        let senders = Thread {
            Self.onThreads(Self.senderCount) { sender in
                do {
                    let client = try SMTPTestClient(connectingTo: smtpAddress)
                    _ = try client.readReply()
                    _ = try client.command("EHLO sender\(sender).example.net")
                    // Sender s sends messages s, s+4, s+8...; message n goes to mailbox n % 20.
                    for number in stride(from: sender, to: total, by: Self.senderCount) {
                        let body = "Subject: token-\(number)\nX-Token: token-\(number)\n\n.body of \(number)\n"
                        let reply = try client.sendMail(
                            from: "load@example.net", to: [Self.mailbox(number % Self.mailboxCount)], body: body)
                        if reply.code != 250 { sendFailures.update { $0.append("message \(number): \(reply)") } }
                    }
                    _ = try client.command("QUIT")
                } catch {
                    sendFailures.update { $0.append("sender \(sender): \(error)") }
                }
            }
            sendersDone.update { $0 = true }
        }
        senders.start()

        Self.onThreads(Self.mailboxCount) { mailbox in
            var collected = 0
            var sessions = 0
            let deadline = Date().addingTimeInterval(120)
            while collected < Self.messagesPerMailbox && Date() < deadline {
                sessions += 1
                do {
                    let client = try POP3TestClient(connectingTo: pop3Address)
                    try client.login(Self.mailbox(mailbox), password: "pw\(mailbox)")
                    let count = try client.stat().count
                    var tokens: [String] = []
                    for number in stride(from: 1, through: count, by: 1) {
                        let lines = try client.retrieve(number)
                        let token = lines.first { $0.hasPrefix("X-Token: ") }.map { String($0.dropFirst(9)) } ?? "?"
                        if !lines.contains(".body of \(token.dropFirst(6))") {
                            pullFailures.update { $0.append("mailbox \(mailbox): bad body for \(token): \(lines)") }
                        }
                        let answer = try client.command("DELE \(number)")
                        if !answer.hasPrefix("+OK") { pullFailures.update { $0.append("DELE: \(answer)") } }
                        tokens.append(token)
                    }
                    let goodbye = try client.quit()
                    guard goodbye.hasPrefix("+OK") else {
                        pullFailures.update { $0.append("mailbox \(mailbox): QUIT \(goodbye)") }
                        continue
                    }
                    // Counted only once the deletions are committed.
                    collected += tokens.count
                    retrieved.update { all in all += tokens.map { ($0, mailbox) } }
                } catch {
                    pullFailures.update { $0.append("mailbox \(mailbox) session \(sessions): \(error)") }
                }
                if collected < Self.messagesPerMailbox { usleep(20_000) }
            }
        }
        while !sendersDone.value { usleep(10_000) }

        #expect(sendFailures.value.isEmpty, "\(sendFailures.value)")
        #expect(pullFailures.value.isEmpty, "\(pullFailures.value.prefix(5))")
        let tokens = retrieved.value
        #expect(tokens.count == total, "retrieved \(tokens.count) of \(total)")
        #expect(Set(tokens.map(\.token)) == Set((0..<total).map { "token-\($0)" }), "lost or unknown messages")
        let duplicates = Dictionary(grouping: tokens, by: \.token).filter { $0.value.count > 1 }.keys.sorted()
        #expect(duplicates.isEmpty, "retrieved more than once: \(duplicates)")
        #expect(tokens.allSatisfy { Int($0.token.dropFirst(6)).map { $0 % Self.mailboxCount } == $0.mailbox },
                "a message came out of the wrong mailbox")
        for index in 0..<Self.mailboxCount {
            #expect(office.messages(for: Self.mailbox(index)).isEmpty, "mailbox \(index) not emptied")
        }
    }
}
