// POP3SessionHarness: one whole POP3 session driven by a fuzzer input. The header picks the configuration
// and how input is split into reads; the payload is what the client pipelines. Decisions are answered by
// a fixed policy over a 3-message maildrop, immediately or after the next read (to exercise buffering).

import PostOfficeCore
import PostOfficeFuzzSupport
import PostOfficePOP3

struct POP3SessionHarness {
    /// Header layout: byte 0 and 1 are flags, bytes 2...5 the read sizes.
    static let headerCount = 6

    /// The fixed maildrop given on every successful login; message 2's id needs repair by the engine.
    static let snapshot = [
        POP3MessageInfo(uniqueID: "uid-1", octets: 120, storageKey: "m1"),
        POP3MessageInfo(uniqueID: "bad id\r\nwith spaces", octets: 300, storageKey: "m2"),
        POP3MessageInfo(uniqueID: "uid-3", octets: 5, storageKey: "m3"),
    ]

    private enum Decision {
        case authentication(password: String)
        case message(storageKey: String, bodyLineLimit: Int?)
        case update
    }

    private let input: FuzzInput
    /// Everything in one read and decisions answered at once (the reference run of the split check).
    private let usesWholeReads: Bool
    /// What the session did: must not depend on how input was split into reads.
    private(set) var transcript: [POP3Action] = []
    private let configuration: POP3ServerConfiguration
    private var machine: POP3ServerStateMachine
    private var pendingDecision: Decision?
    /// Bytes received since the engine paused; all are still buffered inside it.
    private var bytesFedWhilePaused = 0
    /// Model of the session's marks, kept from the engine's own answers.
    private var deletedNumbers: Set<Int> = []
    private var retrievedKeys: Set<String> = []
    private var isLoggedIn = false
    private var sawClose = false

    init(input: FuzzInput, usesWholeReads: Bool = false) {
        self.input = input
        self.usesWholeReads = usesWholeReads
        var configuration = POP3ServerConfiguration(hostname: "fuzz.example", limits: Limits())
        configuration.allowsPlaintextAuthentication = input.flag(0)
        configuration.isSTLSAvailable = input.flag(1)
        configuration.isTLSActive = input.flag(2)
        configuration.isAPOPEnabled = input.flag(3)
        configuration.apopTimestamp = input.flag(3) ? "<1896.697170952@fuzz.example>" : nil
        configuration.maximumPendingInputBytes = input.flag(5) ? 300 : 64 * 1024
        configuration.maximumErrors = input.flag(8) ? 3 : 20
        if input.flag(10) { configuration.limits.pop3CommandLineLength = 16 }
        if input.flag(11) { configuration.maximumAuthenticationLineLength = 20 }
        self.configuration = configuration
        machine = POP3ServerStateMachine(configuration: configuration)
    }

    private var defersDecisions: Bool { input.flag(4) && !usesWholeReads }

    /// Whether the transcript should be the same for any split: not when STLS drops what was buffered, the
    /// pending-input cap is small, or shutdown and early input are tied to read boundaries.
    var isSplitInvariant: Bool { !input.flag(1) && !input.flag(5) && !input.flag(9) && !input.flag(12) }

    mutating func run() {
        let chunks = FuzzInput.chunks(of: input.payload, seeds: usesWholeReads ? [0] : Array(input.header[2...]))
        // Optionally some input arrives before the greeting is sent.
        var startIndex = 0
        if input.flag(12), let first = chunks.first {
            feed(first)
            startIndex = 1
        }
        perform(machine.start(), context: "start")
        for (index, chunk) in chunks.enumerated() where index >= startIndex {
            feed(chunk)
            if input.flag(9) && index == chunks.count / 2 {
                perform(machine.beginShutdown(), context: "shutdown")
            }
        }
        // Answer anything still pending, then end the session one way or the other.
        answerPendingDecision(all: true)
        if input.flag(7) {
            perform(machine.beginShutdown(), context: "final shutdown")
            answerPendingDecision(all: true)
        } else {
            perform(machine.timedOut(), context: "timeout")
            precondition(machine.isClosed, "not closed after timeout")
        }
        if machine.isClosed {
            precondition(machine.receive(Array("NOOP\r\n".utf8)).isEmpty, "answer after close")
            precondition(machine.start().isEmpty && machine.timedOut().isEmpty, "actions after close")
        }
    }

    private mutating func feed(_ chunk: ArraySlice<UInt8>) {
        let wasClosed = machine.isClosed
        let wasPaused = machine.isAwaitingDecision
        let actions = machine.receive(chunk)
        if wasClosed {
            precondition(actions.isEmpty, "actions after close")
            return
        }
        if wasPaused {
            bytesFedWhilePaused += chunk.count
            // Paused: nothing may be answered, except closing on too much pipelined input.
            precondition(actions.isEmpty || actions.last == .close, "answered while paused: \(actions)")
            precondition(actions.allSatisfy { $0 == .close || $0 == .send(.tooMuchPipelinedInput) },
                "unexpected actions while paused: \(actions)")
            // Pending input is bounded: past the limit the engine must have closed.
            precondition(bytesFedWhilePaused <= configuration.maximumPendingInputBytes || machine.isClosed,
                "buffered \(bytesFedWhilePaused) bytes while paused without closing")
        }
        perform(actions, context: "receive")
        // Deferred decisions are answered one read after they were asked, so that read is buffered.
        if !defersDecisions || wasPaused { answerPendingDecision() }
    }

    /// Answers the pending decision, and with `all` (or without deferral) each one that follows from it.
    private mutating func answerPendingDecision(all: Bool = false) {
        while let decision = pendingDecision {
            pendingDecision = nil
            let actions: [POP3Action]
            switch decision {
            case .authentication(let password):
                switch password {
                case "fail": actions = machine.authenticationFinished(.failure)
                case "busy": actions = machine.authenticationFinished(.inUse)
                case "temp": actions = machine.authenticationFinished(.temporaryFailure)
                default:
                    actions = machine.authenticationFinished(.success(Self.snapshot))
                    if !machine.isClosed {
                        isLoggedIn = true
                        deletedNumbers = []
                        retrievedKeys = []
                    }
                }
            case .message(let storageKey, let bodyLineLimit):
                if input.flag(14) && storageKey == "m2" {
                    actions = machine.messageUnavailable()
                } else {
                    actions = machine.messageSent()
                    if bodyLineLimit == nil && !machine.isClosed { retrievedKeys.insert(storageKey) }
                }
            case .update:
                actions = machine.updateFinished(success: !input.flag(6))
                precondition(machine.isClosed, "UPDATE finished without closing")
            }
            bytesFedWhilePaused = 0
            perform(actions, context: "decision")
            // With deferral the next decision waits for the next read, unless input has run out.
            if defersDecisions && !all { return }
        }
    }

    /// Checks one batch of actions and records what the runtime must do.
    private mutating func perform(_ actions: [POP3Action], context: String) {
        for (index, action) in actions.enumerated() {
            let isLast = index == actions.count - 1
            precondition(!sawClose, "action after close (\(context)): \(action)")
            transcript.append(action)
            switch action {
            case .send(let response):
                checkStatusLine(response.wireBytes)
                track(response)
            case .sendMultiline(let response, let lines):
                checkMultiline(response, lines: lines, wire: action.wireBytes ?? [])
            case .authenticate(let user, let password):
                precondition(isLast, "authenticate is not the last action")
                precondition(!isLoggedIn, "authenticate after login")
                // USER/PASS refuse controls, but SASL PLAIN (RFC 4616) allows anything but NUL.
                precondition(!user.isEmpty && !user.utf8.contains(0) && !password.utf8.contains(0), "credentials with NUL")
                pendingDecision = .authentication(password: password)
            case .authenticateAPOP(let user, let timestamp, let digest):
                precondition(isLast && !isLoggedIn, "APOP out of place")
                precondition(configuration.isAPOPEnabled && timestamp == configuration.apopTimestamp, "APOP not enabled")
                precondition(isCleanText(user) && digest.utf8.count == 32, "APOP arguments")
                pendingDecision = .authentication(password: "apop")
            case .sendMessage(let storageKey, let octets, let bodyLineLimit):
                precondition(isLast && isLoggedIn, "sendMessage out of place")
                guard let number = Self.snapshot.firstIndex(where: { $0.storageKey == storageKey }).map({ $0 + 1 })
                else { preconditionFailure("sendMessage for unknown key \(storageKey)") }
                precondition(!deletedNumbers.contains(number), "sendMessage for deleted message \(number)")
                precondition(octets == Self.snapshot[number - 1].octets, "sendMessage with wrong size")
                if let bodyLineLimit { precondition(bodyLineLimit >= 0, "negative TOP limit") }
                pendingDecision = .message(storageKey: storageKey, bodyLineLimit: bodyLineLimit)
            case .commit(let deleted, let retrieved):
                precondition(isLast && isLoggedIn, "commit out of place")
                let expectedDeleted = deletedNumbers.sorted().map { Self.snapshot[$0 - 1].storageKey }
                precondition(deleted == expectedDeleted, "commit deleted \(deleted), model \(expectedDeleted)")
                let expectedRetrieved = Self.snapshot.map(\.storageKey).filter {
                    retrievedKeys.contains($0) && !deleted.contains($0)
                }
                precondition(retrieved == expectedRetrieved, "commit retrieved \(retrieved), model \(expectedRetrieved)")
                pendingDecision = .update
            case .close:
                precondition(isLast, "close is not the last action")
                precondition(machine.isClosed, "close emitted but engine not closed")
                sawClose = true
            case .startTLS:
                precondition(index > 0 && actions[index - 1] == .send(.beginTLS), "startTLS without +OK first")
                precondition(configuration.isSTLSAvailable && !configuration.isTLSActive, "STLS not available")
            }
        }
        if pendingDecision != nil {
            precondition(machine.isAwaitingDecision || machine.isClosed,
                "decision emitted but engine not paused (\(context)): \(actions)")
        } else if !machine.isClosed {
            precondition(!machine.isAwaitingDecision, "engine paused without a decision")
        }
    }

    /// Keeps the model of DELE and RSET marks from the engine's answers.
    private mutating func track(_ response: POP3Response) {
        guard response.isOK, isLoggedIn else { return }
        let text = response.text
        if text.hasPrefix("Message ") && text.hasSuffix(" deleted"),
            let number = Int(text.dropFirst("Message ".count).dropLast(" deleted".count))
        {
            precondition((1...Self.snapshot.count).contains(number), "deleted an out-of-range message")
            precondition(deletedNumbers.insert(number).inserted, "message \(number) deleted twice")
        } else if text.hasPrefix("Maildrop has ") {
            deletedNumbers = []
            retrievedKeys = []
        } else if text.contains("signing off") {
            precondition(response.isOK, "sign-off is not +OK")
        }
    }

    /// `+OK[ text]CRLF`, `-ERR[ text]CRLF` or `+ textCRLF`, with no other CR or LF.
    private func checkStatusLine(_ wire: [UInt8]) {
        precondition(wire.count >= 4 && wire.suffix(2) == [13, 10], "status line without CRLF: \(wire)")
        let body = wire.dropLast(2)
        precondition(!body.contains(13) && !body.contains(10), "CR or LF inside a status line: \(wire)")
        let okPrefix = Array("+OK".utf8), errorPrefix = Array("-ERR".utf8)
        if body.starts(with: okPrefix) {
            precondition(body.count == 3 || body[body.startIndex + 3] == 32, "+OK not followed by space")
        } else if body.starts(with: errorPrefix) {
            precondition(body.count == 4 || body[body.startIndex + 4] == 32, "-ERR not followed by space")
        } else {
            precondition(body.starts(with: Array("+ ".utf8)), "line is neither +OK, -ERR nor continuation: \(wire)")
        }
        precondition(wire.count <= 512, "status line too long")
    }

    private func checkMultiline(_ response: POP3Response, lines: [[UInt8]], wire: [UInt8]) {
        precondition(response.isOK && !response.isContinuation, "multi-line answer that is not +OK")
        checkStatusLine(response.wireBytes)
        for line in lines {
            precondition(!line.contains(13) && !line.contains(10), "CR or LF inside a multi-line line")
            if line.first == UInt8(ascii: ".") {
                precondition(line.count >= 2 && line[1] == UInt8(ascii: "."), "unstuffed dot line")
            }
        }
        precondition(wire.suffix(5) == [13, 10, UInt8(ascii: "."), 13, 10], "multi-line block not terminated")
        if response.text == "Unique-ID listing follows" {
            for line in lines {
                let parts = line.split(separator: 32, omittingEmptySubsequences: false)
                precondition(parts.count == 2, "UIDL line is not `n id`")
                let id = String(decoding: parts[1], as: UTF8.self)
                precondition(POP3MessageInfo.isValidUniqueID(id), "UIDL shows an invalid unique-id \(id)")
            }
        }
    }

    private func isCleanText(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }
}
