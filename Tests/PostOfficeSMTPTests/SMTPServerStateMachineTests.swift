// SMTPServerStateMachineTests: the engine's contract with its driver (pausing, ordering, limits, shutdown,
// timeouts) and its resistance to hostile input (huge pipelines, huge lines, binary garbage).

import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPServerStateMachineTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func machine(_ adjust: (inout SMTPServerConfiguration) -> Void = { _ in }) -> SMTPServerStateMachine {
        var configuration = SMTPServerConfiguration(hostname: "mx.example.test")
        adjust(&configuration)
        var machine = SMTPServerStateMachine(configuration: configuration)
        _ = machine.start()
        return machine
    }

    static func replies(_ actions: [SMTPAction]) -> [SMTPReply] {
        actions.compactMap { if case .send(let reply) = $0 { reply } else { nil } }
    }

    static func codes(_ actions: [SMTPAction]) -> [Int] { replies(actions).map(\.code) }

    /// A session after EHLO and an accepted MAIL and RCPT.
    static func inTransaction(_ adjust: (inout SMTPServerConfiguration) -> Void = { _ in }) -> SMTPServerStateMachine {
        var machine = machine(adjust)
        _ = machine.receive(bytes("EHLO c\r\nMAIL FROM:<a@b.example>\r\n"))
        _ = machine.resolveSender(.accept)
        _ = machine.receive(bytes("RCPT TO:<r@mx.example.test>\r\n"))
        _ = machine.resolveRecipient(.accept)
        return machine
    }

    @Test func greetingOnceAndNothingAfterClose() {
        var machine = SMTPServerStateMachine(configuration: SMTPServerConfiguration(hostname: "mx.example.test"))
        #expect(machine.start() == [.send(SMTPReply(220, nil, "mx.example.test ESMTP PostOffice"))])
        #expect(machine.start().isEmpty)
        #expect(machine.receive(Self.bytes("QUIT\r\n")) == [.send(.closing), .close])
        #expect(machine.isClosed)
        #expect(machine.receive(Self.bytes("NOOP\r\n")).isEmpty)
        #expect(machine.timedOut().isEmpty)
        #expect(machine.beginShutdown().isEmpty)
    }

    @Test func earlyTalker() {
        var machine = SMTPServerStateMachine(configuration: SMTPServerConfiguration(hostname: "h"))
        #expect(machine.receive(Self.bytes("EHLO x\r\n")) == [.send(.talkedBeforeGreeting), .close])
        var other = SMTPServerStateMachine(configuration: SMTPServerConfiguration(hostname: "h"))
        _ = other.start()
        #expect(other.receiveBeforeGreeting(Self.bytes("x")) == [.send(.talkedBeforeGreeting), .close])
        #expect(other.isClosed)
    }

    /// Without configured mechanisms (the default) AUTH is neither advertised nor accepted, even under TLS.
    @Test func authIsNotAdvertisedAndAnswered502() {
        var machine = Self.machine { $0.isSTARTTLSAvailable = true }
        let ehlo = Self.replies(machine.receive(Self.bytes("EHLO c\r\n")))
        #expect(ehlo.count == 1)
        #expect(!(ehlo.first?.lines ?? []).contains { $0.uppercased().hasPrefix("AUTH") })
        #expect(
            Self.replies(machine.receive(Self.bytes("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH LOGIN\r\n")))
                == [.commandNotImplemented, .commandNotImplemented])
    }

    @Test func checksPauseAndBufferUntilResolved() {
        var machine = Self.machine()
        let actions = machine.receive(
            Self.bytes("EHLO c\r\nMAIL FROM:<a@b.example> SIZE=10\r\nRCPT TO:<x@y.example>\r\nNOOP\r\n"))
        #expect(Self.codes(actions) == [250])
        #expect(actions.last == .checkSender(MailAddress("a@b.example"), MailParameters(size: 10)))
        #expect(machine.isAwaitingDecision)
        #expect(machine.receive(Self.bytes("NOOP\r\n")).isEmpty)
        let afterSender = machine.resolveSender(.accept)
        #expect(afterSender == [.send(.senderOk), .checkRecipient(MailAddress("x@y.example")!, RecipientParameters())])
        // A resolve of the wrong kind changes nothing.
        #expect(machine.resolveSender(.accept).isEmpty)
        #expect(machine.resolveMessage(.accept).isEmpty)
        let afterRecipient = machine.resolveRecipient(.reject(.relayDenied))
        #expect(afterRecipient == [.send(.relayDenied), .send(.ok), .send(.ok)])
        #expect(!machine.isAwaitingDecision)
    }

    @Test func envelopeAndStreamingForData() {
        var machine = Self.inTransaction()
        let start = machine.receive(Self.bytes("DATA\r\nSubject: a\r\n"))
        #expect(start.first == .send(.startMailInput))
        guard case .beginMessage(let envelope) = start[1] else {
            Issue.record("no beginMessage")
            return
        }
        #expect(envelope.heloName == "c")
        #expect(envelope.isExtended)
        #expect(envelope.reversePath == MailAddress("a@b.example"))
        #expect(envelope.recipients == [MailAddress("r@mx.example.test")!])
        #expect(envelope.recipientParameters == [RecipientParameters()])
        #expect(start.last == .appendMessage(Self.bytes("Subject: a\r\n")))
        #expect(machine.isReceivingMessage)
        #expect(machine.receive(Self.bytes("body\r\n")) == [.appendMessage(Self.bytes("body\r\n"))])
        #expect(machine.receive(Self.bytes(".\r\nNOOP\r\n")) == [.commitMessage])
        #expect(!machine.isReceivingMessage)
        #expect(machine.isAwaitingDecision)
        #expect(
            machine.resolveMessage(.acceptReplying(.messageAccepted(id: "ID1"))) == [
                .send(.messageAccepted(id: "ID1")), .send(.ok),
            ])
    }

    @Test func acceptReplyingWithAnErrorIsARefusal() {
        var machine = Self.machine()
        _ = machine.receive(Self.bytes("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\n"))
        #expect(
            machine.resolveSender(.acceptReplying(.temporaryFailure)) == [.send(.temporaryFailure), .send(.needMail)])
    }

    @Test func softErrorLimitDelaysEveryReply() {
        var machine = Self.machine {
            $0.limits.softErrorLimit = 2
            $0.limits.hardErrorLimit = 10
            $0.limits.errorDelayMilliseconds = 250
        }
        let actions = machine.receive(Self.bytes("X\r\nX\r\nNOOP\r\nX\r\n"))
        #expect(
            actions == [
                .send(.unknownCommand), .send(.unknownCommand), .delay(milliseconds: 250), .send(.ok),
                .delay(milliseconds: 250), .send(.unknownCommand),
            ])
        #expect(machine.errorCount == 3)
    }

    @Test func hardErrorLimitCloses() {
        var machine = Self.machine { $0.limits.hardErrorLimit = 3 }
        let actions = machine.receive(Self.bytes("X\r\nX\r\nX\r\nX\r\n"))
        #expect(Self.codes(actions) == [500, 500, 500, 421])
        #expect(actions.last == .close)
        #expect(machine.isClosed)
    }

    @Test func acceptedMessageResetsTheErrorCount() {
        var machine = Self.inTransaction()
        _ = machine.receive(Self.bytes("X\r\nX\r\n"))
        #expect(machine.errorCount == 2)
        _ = machine.receive(Self.bytes("DATA\r\n.\r\n"))
        _ = machine.resolveMessage(.accept)
        #expect(machine.errorCount == 0)
    }

    @Test func shutdownWaitsForAPendingDecision() {
        var machine = Self.machine()
        _ = machine.receive(Self.bytes("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\n"))
        #expect(machine.beginShutdown().isEmpty)
        #expect(machine.resolveSender(.accept) == [.send(.senderOk), .send(.shuttingDown), .close])
    }

    @Test func shutdownDuringDataFinishesTheMessage() {
        var machine = Self.inTransaction()
        _ = machine.receive(Self.bytes("DATA\r\npart\r\n"))
        #expect(machine.beginShutdown().isEmpty)
        #expect(machine.receive(Self.bytes(".\r\n")) == [.commitMessage])
        #expect(machine.resolveMessage(.accept) == [.send(.ok), .send(.shuttingDown), .close])
    }

    @Test func shutdownBetweenChunksAcceptsOnlyMoreChunks() {
        var machine = Self.inTransaction()
        _ = machine.receive(Self.bytes("BDAT 2\r\nab"))
        #expect(machine.beginShutdown().isEmpty)
        #expect(machine.receive(Self.bytes("BDAT 1 LAST\r\nc")) == [.appendMessage(Self.bytes("c")), .commitMessage])
        #expect(machine.resolveMessage(.accept) == [.send(.ok), .send(.shuttingDown), .close])

        var other = Self.inTransaction()
        _ = other.receive(Self.bytes("BDAT 2\r\nab"))
        _ = other.beginShutdown()
        #expect(other.receive(Self.bytes("NOOP\r\n")) == [.abortMessage, .send(.shuttingDown), .close])
    }

    @Test func timeoutAbortsAMessageInProgress() {
        var machine = Self.inTransaction()
        _ = machine.receive(Self.bytes("BDAT 10\r\nabc"))
        #expect(machine.isReceivingMessage)
        #expect(machine.timedOut() == [.abortMessage, .send(.timeout), .close])
        var idle = Self.machine()
        #expect(idle.timedOut() == [.send(.timeout), .close])
    }

    @Test func chunkBytesAreNeverCommands() {
        var machine = Self.machine()
        _ = machine.receive(Self.bytes("EHLO c\r\n"))
        let actions = machine.receive(Self.bytes("BDAT 6\r\nQUIT\r\nNOOP\r\n"))
        #expect(actions == [.send(.needMail), .send(.ok)])
        #expect(!machine.isClosed)
    }

    @Test func oversizeBDATIsReadAndRefused() {
        var machine = Self.inTransaction { $0.limits.maximumMessageSize = 4 }
        let actions = machine.receive(Self.bytes("BDAT 3\r\nabcBDAT 2 LAST\r\nde"))
        #expect(
            actions == [
                .beginMessage(
                    SMTPEnvelope(
                        heloName: "c", isExtended: true, reversePath: MailAddress("a@b.example"),
                        recipients: [MailAddress("r@mx.example.test")!], recipientParameters: [RecipientParameters()])),
                .appendMessage(Self.bytes("abc")), .send(.chunkReceived(octets: 3)), .abortMessage,
                .send(.messageTooBig),
            ])
    }

    @Test func oversizeDataAbortsAtOnce() {
        var machine = Self.inTransaction { $0.limits.maximumMessageSize = 5 }
        _ = machine.receive(Self.bytes("DATA\r\n"))
        let actions = machine.receive(Self.bytes("0123456789\r\n"))
        #expect(actions == [.abortMessage])
        #expect(machine.receive(Self.bytes(".\r\n")) == [.send(.messageTooBig)])
    }

    @Test func tooMuchPipelinedInputWhilePausedEndsTheSession() {
        var machine = Self.machine { $0.maximumPendingInput = 1000 }
        _ = machine.receive(Self.bytes("EHLO c\r\nMAIL FROM:<a@b.example>\r\n"))
        let chunk = [UInt8](repeating: UInt8(ascii: "N"), count: 400)
        for _ in 0..<10 { #expect(machine.receive(chunk).isEmpty) }
        #expect(machine.bufferedByteCount <= 1000)
        #expect(machine.resolveSender(.accept) == [.send(.senderOk), .send(.tooMuchPipelinedInput), .close])
    }

    @Test func refusedMessagesDoNotCountTowardsTheErrorLimits() {
        var machine = Self.machine { $0.limits.hardErrorLimit = 2 }
        _ = machine.receive(Self.bytes("EHLO c\r\n"))
        for _ in 0..<3 {
            _ = machine.receive(Self.bytes("MAIL FROM:<a@b.example>\r\n"))
            _ = machine.resolveSender(.accept)
            _ = machine.receive(Self.bytes("RCPT TO:<r@b.example>\r\n"))
            _ = machine.resolveRecipient(.accept)
            _ = machine.receive(Self.bytes("DATA\r\nx\r\n.\r\n"))
            let refusal = SMTPReply(452, EnhancedStatusCode(4, 3, 1), "Disk full")
            #expect(machine.resolveMessage(.reject(refusal)) == [.send(refusal)])
        }
        #expect(machine.errorCount == 0)
        #expect(!machine.isClosed)
    }

    @Test func nothingFollowsCloseWhenTheDecisionReplyHitsTheHardLimit() {
        var machine = Self.machine {
            $0.maximumPendingInput = 100
            $0.limits.hardErrorLimit = 1
        }
        _ = machine.receive(Self.bytes("EHLO c\r\nMAIL FROM:<a@b.example>\r\n"))
        _ = machine.receive([UInt8](repeating: 65, count: 200))
        #expect(machine.resolveSender(.reject(.senderRejected)) == [.send(.senderRejected), .send(.tooManyErrors), .close])
    }

    @Test func startTLSDiscardsPipelinedInputAndForgetsHello() {
        var machine = Self.machine { $0.isSTARTTLSAvailable = true }
        _ = machine.receive(Self.bytes("EHLO c\r\n"))
        #expect(
            machine.receive(Self.bytes("STARTTLS\r\nMAIL FROM:<x@y.example>\r\n")) == [
                .send(.readyToStartTLS), .startTLS,
            ])
        machine.tlsEstablished()
        #expect(machine.isTLSActive)
        #expect(machine.heloName == nil)
        #expect(!machine.capabilities.keywords.contains("STARTTLS"))
        #expect(machine.receive(Self.bytes("MAIL FROM:<x@y.example>\r\n")) == [.send(.needHello)])
    }

    // MARK: Hostile input

    /// A million pipelined RCPTs from a client that never reads: bounded work and memory, then 421.
    @Test func millionPipelinedRecipients() {
        var machine = Self.machine {
            $0.limits.maximumRecipients = 100
            $0.limits.hardErrorLimit = 20
        }
        _ = machine.receive(Self.bytes("EHLO c\r\nMAIL FROM:<a@b.example>\r\n"))
        _ = machine.resolveSender(.accept)
        let line = Self.bytes("RCPT TO:<user@example.test>\r\n")
        let block = Array((0..<2000).map { _ in line }.joined())  // 2000 commands per write
        var sent = 0
        var checks = 0
        var maximumBuffered = 0
        while sent < 1_000_000 && !machine.isClosed {
            var actions = machine.receive(block)
            sent += 2000
            while case .checkRecipient = actions.last {
                checks += 1
                maximumBuffered = max(maximumBuffered, machine.bufferedByteCount)
                actions = machine.resolveRecipient(.accept)
            }
        }
        #expect(machine.isClosed)
        #expect(checks == 100)
        #expect(maximumBuffered <= block.count)
        #expect(sent < 1_000_000)
    }

    @Test func tenMebibyteLine() {
        var machine = Self.machine()
        let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 64 * 1024)
        var replies: [SMTPReply] = []
        for _ in 0..<160 {
            replies += Self.replies(machine.receive(chunk))
            #expect(machine.bufferedByteCount <= 512)
        }
        replies += Self.replies(machine.receive(Self.bytes("\r\nNOOP\r\n")))
        #expect(replies == [.lineTooLong, .ok])
    }

    @Test(arguments: 1...5)
    func binaryGarbage(seed: UInt64) {
        let random = SeededRandomSource(seed: seed)
        var machine = Self.machine()
        var totalActions = 0
        for _ in 0..<64 where !machine.isClosed {
            let chunk = (0..<4096).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var actions = machine.receive(chunk)
            while let last = actions.last, machine.isAwaitingDecision {
                switch last {
                case .checkSender: actions = machine.resolveSender(.accept)
                case .checkRecipient: actions = machine.resolveRecipient(.accept)
                default: actions = machine.resolveMessage(.accept)
                }
                totalActions += actions.count
            }
            totalActions += actions.count
            if let close = actions.firstIndex(of: .close) { #expect(close == actions.count - 1) }
            #expect(machine.bufferedByteCount <= 512)
        }
        #expect(machine.isClosed || machine.errorCount < 20)
        #expect(totalActions <= 64 * 4096)
    }

    @Test func bigMessageIsStreamedNotAccumulated() {
        var machine = Self.inTransaction()
        _ = machine.receive(Self.bytes("DATA\r\n"))
        let line = Self.bytes(String(repeating: "z", count: 998) + "\r\n")
        let chunk = Array((0..<64).map { _ in line }.joined())
        var stored = 0
        for _ in 0..<80 {
            let actions = machine.receive(chunk)
            #expect(actions.count == 1)
            if case .appendMessage(let bytes) = actions.first { stored += bytes.count }
            #expect(machine.bufferedByteCount == 0)
        }
        #expect(machine.receive(Self.bytes(".\r\n")) == [.commitMessage])
        #expect(stored == chunk.count * 80)
    }
}
