// SMTPTranscriptTests: runs every Transcripts/*.txt against the engine with an in-memory driver.
// Each transcript runs as written, one byte per write, and (without events) as a single write: same replies.
//
// The in-memory driver: `# users:` exist, `# domains:` are local; RCPT to an unknown user of a local domain
// gets 550 5.1.1, any other domain 550 5.7.1; `# reject-senders:` get 550 5.7.1 at MAIL; commits are accepted
// unless `# commit: tempfail` (451 4.3.0) or `# commit: id=X` (250 ... queued as X). See Transcripts/README.md.

import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

/// The in-memory driver of one transcript run.
struct TranscriptDriver {
    var machine: SMTPServerStateMachine
    let transcript: SMTPTranscript
    var matcher = SMTPReplyMatcher()
    var accepted: [(envelope: SMTPEnvelope, content: [UInt8])] = []
    var current: (envelope: SMTPEnvelope, content: [UInt8])?
    var closed = false
    var aborts = 0
    var delays = 0
    var problems: [String] = []

    init(transcript: SMTPTranscript) throws {
        self.transcript = transcript
        machine = SMTPServerStateMachine(configuration: try Self.configuration(transcript))
    }

    static func configuration(_ transcript: SMTPTranscript) throws -> SMTPServerConfiguration {
        let settings = transcript.configuration
        var configuration = SMTPServerConfiguration(hostname: settings["hostname"] ?? "mx.example.test")
        func flag(_ key: String) -> Bool? { settings[key].map { ["true", "on", "yes"].contains($0.lowercased()) } }
        func number(_ key: String) -> Int? { settings[key].flatMap { Int($0) } }
        if let v = number("maximumMessageSize") { configuration.limits.maximumMessageSize = v }
        if let v = number("maximumRecipients") { configuration.limits.maximumRecipients = v }
        if let v = number("softErrorLimit") { configuration.limits.softErrorLimit = v }
        if let v = number("hardErrorLimit") { configuration.limits.hardErrorLimit = v }
        if let v = number("smtpCommandLineLength") { configuration.limits.smtpCommandLineLength = v }
        if let v = number("smtpTextLineLength") { configuration.limits.smtpTextLineLength = v }
        if let v = flag("rejectLongTextLines") { configuration.limits.rejectLongTextLines = v }
        if let v = flag("pipelining") { configuration.isPipeliningEnabled = v }
        if let v = flag("8bitmime") { configuration.is8BitMIMEEnabled = v }
        if let v = flag("smtputf8") { configuration.isSMTPUTF8Enabled = v }
        if let v = flag("chunking") { configuration.isChunkingEnabled = v }
        if let v = flag("dsn") { configuration.isDSNEnabled = v }
        if let v = flag("vrfy") { configuration.isVRFYEnabled = v }
        if let v = flag("starttls") { configuration.isSTARTTLSAvailable = v }
        if let v = settings["greeting"] { configuration.greeting = v.replacingOccurrences(of: "_", with: " ") }
        let known: Set = [
            "hostname", "maximumMessageSize", "maximumRecipients", "softErrorLimit", "hardErrorLimit",
            "smtpCommandLineLength", "smtpTextLineLength", "rejectLongTextLines", "pipelining", "8bitmime",
            "smtputf8", "chunking", "dsn", "vrfy", "starttls", "greeting",
        ]
        for key in settings.keys where !known.contains(key) {
            throw SMTPTranscript.FormatError(line: 0, message: "unknown config key \(key)")
        }
        return configuration
    }

    /// Performs actions like a real driver would, resolving checks from the transcript's tables.
    mutating func perform(_ actions: [SMTPAction]) {
        var queue = actions[...]
        while let action = queue.popFirst() {
            if closed { problems.append("action after close: \(action)") }
            switch action {
            case .send(let reply):
                matcher.append(reply.wireBytes)
            case .delay:
                delays += 1
            case .checkSender(let sender, _):
                if !queue.isEmpty { problems.append("actions after checkSender") }
                let refused = sender.map { s in transcript.words("reject-senders").contains { $0.lowercased() == s.description.lowercased() } } ?? false
                queue.append(contentsOf: machine.resolveSender(refused ? .reject(.senderRejected) : .accept))
            case .checkRecipient(let recipient, _):
                if !queue.isEmpty { problems.append("actions after checkRecipient") }
                queue.append(contentsOf: machine.resolveRecipient(decide(recipient)))
            case .beginMessage(let envelope):
                if current != nil { problems.append("beginMessage inside a message") }
                current = (envelope, [])
            case .appendMessage(let bytes):
                if current == nil { problems.append("appendMessage outside a message") }
                current?.content += bytes
            case .commitMessage:
                if !queue.isEmpty { problems.append("actions after commitMessage") }
                guard let message = current else {
                    problems.append("commitMessage outside a message")
                    continue
                }
                current = nil
                let commit = transcript.directives["commit"] ?? "accept"
                if commit == "tempfail" {
                    queue.append(contentsOf: machine.resolveMessage(.reject(.temporaryFailure)))
                } else {
                    accepted.append(message)
                    if commit.hasPrefix("id=") {
                        let id = String(commit.dropFirst(3))
                        queue.append(contentsOf: machine.resolveMessage(.acceptReplying(.messageAccepted(id: id))))
                    } else {
                        queue.append(contentsOf: machine.resolveMessage(.accept))
                    }
                }
            case .abortMessage:
                if current == nil { problems.append("abortMessage outside a message") }
                current = nil
                aborts += 1
            case .startTLS:
                machine.tlsEstablished()
            case .close:
                closed = true
            }
        }
    }

    func decide(_ recipient: MailAddress) -> SMTPDecision {
        let domains = transcript.words("domains").map { $0.lowercased() }
        guard domains.contains(recipient.normalizedDomain) else { return .reject(.relayDenied) }
        if recipient.localPart.lowercased() == "postmaster" { return .accept }
        let users = transcript.words("users").map { $0.lowercased() }
        let key = "\(recipient.localPart.lowercased())@\(recipient.normalizedDomain)"
        return users.contains(key) ? .accept : .reject(.unknownUser)
    }

    /// The `E:` form of an envelope.
    static func describe(_ envelope: SMTPEnvelope) -> String {
        var text = "from=<\(envelope.reversePath?.description ?? "")> to="
        text += envelope.recipients.map { "<\($0)>" }.joined(separator: ",")
        let parameters = envelope.mailParameters
        if parameters.body != .sevenBit { text += " body=\(parameters.body.rawValue)" }
        if parameters.isSMTPUTF8 { text += " smtputf8" }
        if let size = parameters.size { text += " size=\(size)" }
        if let ret = parameters.dsnReturn { text += " ret=\(ret.rawValue)" }
        if let envid = parameters.envelopeID { text += " envid=\(envid)" }
        for (index, recipient) in envelope.recipientParameters.enumerated() {
            if let notify = recipient.dsnNotify {
                var words: [String] = []
                if notify.contains(.success) { words.append("SUCCESS") }
                if notify.contains(.failure) { words.append("FAILURE") }
                if notify.contains(.delay) { words.append("DELAY") }
                text += " notify\(index + 1)=\(words.isEmpty ? "NEVER" : words.joined(separator: ","))"
            }
            if let original = recipient.originalRecipient {
                text += " orcpt\(index + 1)=\(original.addressType);\(original.address)"
            }
        }
        return text
    }
}

@Suite struct SMTPTranscriptTests {
    enum Mode: String, CaseIterable, Sendable { case written, drip, whole }

    static let directory: URL? = Bundle.module.url(forResource: "Transcripts", withExtension: nil)

    static let names: [String] = {
        guard let directory,
            let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        else { return [] }
        return files.filter { $0.hasSuffix(".txt") }.sorted()
    }()

    static func load(_ name: String) throws -> SMTPTranscript {
        let url = try #require(directory).appendingPathComponent(name)
        return try SMTPTranscript(name: name, text: String(contentsOf: url, encoding: .utf8))
    }

    @Test func thereAreEnoughTranscripts() {
        #expect(Self.names.count >= 15)
    }

    @Test(arguments: names, Mode.allCases)
    func transcript(name: String, mode: Mode) throws {
        let transcript = try Self.load(name)
        let modes = transcript.words("modes")
        if !modes.isEmpty && !modes.contains(mode.rawValue) { return }
        if mode == .whole && transcript.hasEvents { return }
        var driver = try TranscriptDriver(transcript: transcript)
        if transcript.directives["greeting"] != "none" {
            driver.perform(driver.machine.start())
        }
        var patterns: [String] = []
        switch mode {
        case .written:
            for step in transcript.steps {
                switch step {
                case .write(let bytes):
                    driver.perform(driver.machine.receive(bytes))
                case .expect(let pattern):
                    let got = driver.matcher.unmatched.first ?? "(nothing)"
                    let matched = driver.matcher.match(pattern)
                    #expect(matched, "\(name): expected `\(pattern)`, got `\(got)`")
                case .event(let event):
                    try Self.perform(event, &driver)
                }
            }
        case .drip, .whole:
            for step in transcript.steps {
                switch step {
                case .write(let bytes) where mode == .drip:
                    for byte in bytes { driver.perform(driver.machine.receive([byte])) }
                case .write:
                    break
                case .expect(let pattern):
                    patterns.append(pattern)
                case .event(let event):
                    try Self.perform(event, &driver)
                }
            }
            if mode == .whole { driver.perform(driver.machine.receive(transcript.clientBytes)) }
            for pattern in patterns {
                let got = driver.matcher.unmatched.first ?? "(nothing)"
                let matched = driver.matcher.match(pattern)
                #expect(matched, "\(name) [\(mode)]: expected `\(pattern)`, got `\(got)`")
            }
        }
        #expect(driver.matcher.unmatched.isEmpty, "\(name) [\(mode)]: unexpected replies \(Array(driver.matcher.unmatched))")
        #expect(driver.problems.isEmpty, "\(name) [\(mode)]: \(driver.problems)")
        #expect(driver.current == nil || !driver.closed, "\(name) [\(mode)]: closed with a message open")
        if let expected = transcript.directives["messages"].flatMap(Int.init) {
            #expect(driver.accepted.count == expected, "\(name) [\(mode)]: accepted \(driver.accepted.count) messages")
        }
        if let expected = transcript.directives["aborts"].flatMap(Int.init) {
            #expect(driver.aborts == expected, "\(name) [\(mode)]: \(driver.aborts) aborts")
        }
        if transcript.directives["closed"] == "yes" {
            #expect(driver.closed && driver.machine.isClosed, "\(name) [\(mode)]: session should be closed")
        }
        #expect(driver.accepted.count >= transcript.expectedMessages.count, "\(name) [\(mode)]: too few messages")
        for (expected, message) in zip(transcript.expectedMessages, driver.accepted) {
            if let envelope = expected.envelope {
                #expect(TranscriptDriver.describe(message.envelope) == envelope, "\(name) [\(mode)]: envelope")
            }
            if let content = expected.content {
                #expect(
                    message.content == content,
                    "\(name) [\(mode)]: content \(String(decoding: message.content, as: UTF8.self).debugDescription)")
            }
        }
    }

    static func perform(_ event: String, _ driver: inout TranscriptDriver) throws {
        switch event {
        case "shutdown": driver.perform(driver.machine.beginShutdown())
        case "timeout": driver.perform(driver.machine.timedOut())
        default: throw SMTPTranscript.FormatError(line: 0, message: "unknown event \(event)")
        }
    }
}
