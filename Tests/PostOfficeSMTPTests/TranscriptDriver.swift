// TranscriptDriver: the in-memory driver used by the transcript tests. It performs engine actions like the
// server runtime would and answers checks from the transcript's directives (users, domains, commit...).

import Foundation
import PostOfficeCore
import PostOfficeTesting

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
    /// The nodes ETRN started a queue run for, in order.
    var queueRuns: [SMTPQueueNode] = []

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
        if let v = settings["auth"] {
            configuration.authenticationMechanisms = try v.split(separator: "+").map { name in
                guard let mechanism = SASLMechanism(name: name) else {
                    throw SMTPTranscript.FormatError(line: 0, message: "unknown mechanism \(name)")
                }
                return mechanism
            }
        }
        if let v = flag("authWithoutTLS") { configuration.allowsAuthenticationWithoutTLS = v }
        if let v = flag("requireAuth") { configuration.requiresAuthentication = v }
        if let v = flag("authzid") { configuration.allowsAuthorizationIdentity = v }
        if let v = number("authResponseLength") { configuration.maximumAuthenticationResponseLength = v }
        if let v = flag("lmtp") { configuration.flavor = v ? .lmtp : .smtp }
        if let v = settings["queueRunDomains"] { configuration.queueRunDomains = v.split(separator: "+").map(String.init) }
        if let v = flag("queueRunTrusted") { configuration.allowsQueueRunWithoutAuthentication = v }
        if let v = settings["greeting"] { configuration.greeting = v.replacingOccurrences(of: "_", with: " ") }
        let known: Set = [
            "hostname", "maximumMessageSize", "maximumRecipients", "softErrorLimit", "hardErrorLimit",
            "smtpCommandLineLength", "smtpTextLineLength", "rejectLongTextLines", "pipelining", "8bitmime",
            "smtputf8", "chunking", "dsn", "vrfy", "starttls", "greeting", "auth", "authWithoutTLS", "requireAuth",
            "authzid", "authResponseLength", "lmtp", "queueRunDomains", "queueRunTrusted",
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
                let refused =
                    sender.map { s in
                        transcript.words("reject-senders").contains { $0.lowercased() == s.description.lowercased() }
                    } ?? false
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
                if machine.configuration.flavor == .lmtp {
                    // LMTP: one decision per accepted recipient; `# commit-fail: rcpt=code` fails that one.
                    let decisions = message.envelope.recipients.map(lmtpDecision)
                    if decisions.contains(.accept) { accepted.append(message) }
                    queue.append(contentsOf: machine.resolveMessage(recipients: decisions))
                } else if commit == "tempfail" {
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
            case .authenticate(let credentials):
                if !queue.isEmpty { problems.append("actions after authenticate") }
                queue.append(contentsOf: machine.resolveAuthentication(verify(credentials)))
            case .startQueueRun(let node):
                if !queue.isEmpty { problems.append("actions after startQueueRun") }
                // `# queue-run: unavailable` answers like a server whose queue is off.
                if transcript.directives["queue-run"] == "unavailable" {
                    queue.append(contentsOf: machine.resolveQueueRun(.reject(.queueRunUnavailable(node.text, reason: "outbound delivery is off"))))
                } else {
                    queueRuns.append(node)
                    queue.append(contentsOf: machine.resolveQueueRun(.accept))
                }
            case .startTLS:
                machine.tlsEstablished()
            case .close:
                closed = true
            }
        }
    }

    /// `# commit-fail: bob@example.test=452 ...`: that recipient's delivery fails with the storage reply
    /// for the code (452 4.2.2 mailbox full, 552 5.2.2 over quota, 550 5.1.1 gone, 451 4.3.0); others accept.
    func lmtpDecision(_ recipient: MailAddress) -> SMTPDecision {
        for word in transcript.words("commit-fail") {
            let parts = word.split(separator: "=")
            guard parts.count == 2, parts[0].lowercased() == recipient.description.lowercased() else { continue }
            switch parts[1] {
            case "452": return .reject(SMTPReply(452, EnhancedStatusCode(4, 2, 2), "Mailbox full, try again later"))
            case "552": return .reject(SMTPReply(552, EnhancedStatusCode(5, 2, 2), "Mailbox full (over quota)"))
            case "550": return .reject(SMTPReply(550, EnhancedStatusCode(5, 1, 1), "No such user here"))
            default: return .reject(.temporaryFailure)
            }
        }
        return .accept
    }

    func decide(_ recipient: MailAddress) -> SMTPDecision {
        let domains = transcript.words("domains").map { $0.lowercased() }
        guard domains.contains(recipient.normalizedDomain) else { return .reject(.relayDenied) }
        if recipient.localPart.lowercased() == "postmaster" { return .accept }
        let users = transcript.words("users").map { $0.lowercased() }
        let key = "\(recipient.localPart.lowercased())@\(recipient.normalizedDomain)"
        return users.contains(key) ? .accept : .reject(.unknownUser)
    }

    /// `# logins: user:password ...` succeed as the user (or the authorization identity, when one is given
    /// and allowed); `# auth-tempfail: user ...` get 454; anything else 535.
    func verify(_ credentials: PlainCredentials) -> SMTPAuthenticationResult {
        let user = credentials.authenticationIdentity
        if transcript.words("auth-tempfail").contains(user) { return .temporaryFailure }
        guard transcript.words("logins").contains("\(user):\(credentials.password)") else { return .failure }
        return .success(identity: credentials.authorizationIdentity.isEmpty ? user : credentials.authorizationIdentity)
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
        if let submitter = parameters.submitter { text += " auth=\(submitter)" }
        if let identity = envelope.authenticatedIdentity { text += " user=\(identity)" }
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
