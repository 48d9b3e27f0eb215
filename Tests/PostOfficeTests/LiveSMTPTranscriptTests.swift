// LiveSMTPTranscriptTests: replays the engine's SMTP transcripts (Tests/PostOfficeSMTPTests/Transcripts) over
// TCP against a running server, once delivering into Maildirs and once through a spooling delivery hook, and
// checks every reply line, the close, and the envelope and bytes of each message stored. After a STARTTLS
// go-ahead the replay does the TLS handshake and goes on inside TLS.

import Foundation
import PostOffice
import PostOfficeTLS
import PostOfficeTesting
import Testing

@Suite(.serialized) struct LiveSMTPTranscriptTests {
    /// Where a message goes: the real Maildir delivery, or a `deliver` hook that captures the spool file.
    enum Delivery: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case maildir, spool
        var testDescription: String { rawValue }
    }

    static let directory = LiveTestSupport.repositoryRoot + "/Tests/PostOfficeSMTPTests/Transcripts"

    static let transcripts: [SMTPTranscript] = {
        LiveTestSupport.files(in: directory).filter { $0.hasSuffix(".txt") }.compactMap { name in
            guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) else { return nil }
            return try? SMTPTranscript(name: name, text: text)
        }
    }()

    /// Configuration keys the server runtime takes from `PostOfficeConfiguration` (STARTTLS: a certificate);
    /// the others (extensions switched off, a custom greeting, the AUTH response bound) are engine settings
    /// the server does not expose.
    static let liveConfigurationKeys: Set = [
        "hostname", "maximumMessageSize", "maximumRecipients", "softErrorLimit", "hardErrorLimit",
        "smtpCommandLineLength", "smtpTextLineLength", "rejectLongTextLines", "auth", "authWithoutTLS", "requireAuth",
        "starttls",
    ]

    /// Why a transcript cannot run live in a mode, or nil when it can.
    /// (`greeting: none` runs live with a greeting delay the client talks into; `reject-senders` through
    /// the `checkSender` hook.)
    static func reasonToSkip(_ transcript: SMTPTranscript, _ delivery: Delivery) -> String? {
        if transcript.configuration["lmtp"] == "on" {
            return "LMTP: the in-memory driver fails single recipients by directive, which a live Maildir cannot be "
                + "told to do; LMTPTests runs LMTP on the wire (a broken Maildir, Postfix's lmtp client)"
        }
        let unsupported = transcript.configuration.keys.filter { !liveConfigurationKeys.contains($0) }.sorted()
        if !unsupported.isEmpty {
            return "engine settings not exposed by PostOfficeConfiguration: \(unsupported.joined(separator: ", "))"
        }
        if transcript.directives["commit"] == "tempfail" && delivery == .maildir {
            return "a Maildir commit cannot be made to fail on purpose; the spool mode's deliver hook covers it"
        }
        return nil
    }

    static let runnable: [(String, Delivery)] = transcripts.flatMap { transcript in
        Delivery.allCases.filter { reasonToSkip(transcript, $0) == nil }.map { (transcript.name, $0) }
    }

    /// The transcripts that cannot run live, and why: a list pinned here, so a new one is a decision.
    @Test func transcriptsNotRunLiveAreTheKnownOnes() {
        var notRun: [String: String] = [:]
        for transcript in Self.transcripts {
            for delivery in Delivery.allCases {
                if let reason = Self.reasonToSkip(transcript, delivery) {
                    notRun["\(transcript.name)/\(delivery.rawValue)"] = reason
                }
            }
        }
        #expect(Self.transcripts.count >= 24)
        #expect(Self.runnable.count + notRun.count == Self.transcripts.count * Delivery.allCases.count)
        #expect(Set(notRun.keys) == [
            "20-temporary-failure.txt/maildir",
            "21-extensions-off.txt/maildir", "21-extensions-off.txt/spool",
            // SMTP AUTH: 25 to 30 run live (AUTH on port 25 via smtpd_auth_on_smtp, the submission port,
            // smtpd_auth_mechanisms for PLAIN alone, STARTTLS with a test certificate, an authenticate hook that
            // throws for the unavailable verifier). 36 needs a 64-byte AUTH response bound: the engine's
            // maximumAuthenticationResponseLength (12288) is not a server setting.
            "36-auth-response-too-long.txt/maildir", "36-auth-response-too-long.txt/spool",
            // LMTP: per-recipient failures on purpose; LMTPTests covers LMTP live.
            "31-lmtp-per-recipient.txt/maildir", "31-lmtp-per-recipient.txt/spool",
            "32-lmtp-whole-message-failures.txt/maildir", "32-lmtp-whole-message-failures.txt/spool",
            // ETRN: the engine's queue-run settings are derived from relay_domains, relay_networks and the
            // queue; ETRNTests drives the live server instead.
            "33-etrn-trusted.txt/maildir", "33-etrn-trusted.txt/spool",
            "34-etrn-needs-auth.txt/maildir", "34-etrn-needs-auth.txt/spool",
            "35-etrn-off.txt/maildir", "35-etrn-off.txt/spool",
        ], "\(notRun)")
        #expect(notRun["36-auth-response-too-long.txt/spool"]?.contains("authResponseLength") == true)
    }

    /// One message the server took, as the hooks saw it.
    struct Captured: Sendable {
        var reversePath: String
        var recipients: [String]
        /// The bytes as delivered: the spool file (spool mode) or the first Maildir file (maildir mode).
        var content: [UInt8]
    }

    @Test(arguments: runnable)
    func replay(name: String, delivery: Delivery) throws {
        let transcript = try #require(Self.transcripts.first { $0.name == name })
        let settings = transcript.configuration
        let domains = transcript.words("domains").isEmpty ? ["example.test"] : transcript.words("domains")
        let mailDomain = domains.first { !$0.hasPrefix("[") } ?? "example.test"
        let postmaster = "postmaster@\(mailDomain)"
        var users: [String: String] = [postmaster: "pw"]
        for user in transcript.words("users") { users[user] = "pw" }
        let userTable = users.keys.map { $0.lowercased() }
        let captured = LockedBox<[Captured]>([])
        let commit = transcript.directives["commit"] ?? "accept"
        let queueID = commit.hasPrefix("id=") ? String(commit.dropFirst(3)) : nil

        var hooks = PostOfficeHooks()
        let refusedSenders = Set(transcript.words("reject-senders").map { $0.lowercased() })
        if !refusedSenders.isEmpty {
            hooks.checkSender = { request in
                guard let sender = request.reversePath, refusedSenders.contains(sender.description.lowercased()) else {
                    return .accept
                }
                return .reject(code: 550, enhancedCode: "5.7.1", text: "Sender address rejected: Access denied")
            }
        }
        // The transcripts' decision table (see TranscriptDriver.decide), with the engine catalogue's texts.
        hooks.checkRecipient = { request in
            let recipient = request.recipient
            guard domains.map({ $0.lowercased() }).contains(recipient.normalizedDomain) else {
                return .reject(code: 550, enhancedCode: "5.7.1", text: "Relay access denied")
            }
            if recipient.localPart.lowercased() == "postmaster" {
                return MailAddress(postmaster).map { .accept(mailbox: $0) } ?? .useDefault
            }
            let key = "\(recipient.localPart.lowercased())@\(recipient.normalizedDomain)"
            guard userTable.contains(key), let mailbox = MailAddress(key) else {
                return .reject(
                    code: 550, enhancedCode: "5.1.1", text: "Recipient address rejected: User unknown in local recipient table")
            }
            return .accept(mailbox: mailbox)
        }
        switch delivery {
        case .maildir:
            hooks.messageDelivered = { report in
                let content = report.files.first.flatMap { PipeIO.readFile(atPath: $0) }.map { [UInt8]($0) } ?? []
                captured.update {
                    $0.append(Captured(
                        reversePath: report.reversePath?.description ?? "", recipients: report.recipients.map(\.description),
                        content: content))
                }
            }
        case .spool:
            hooks.deliver = { message in
                if commit == "tempfail" { return .temporaryFailure("Error: temporary failure, try again later") }
                guard let data = PipeIO.readFile(atPath: message.path) else { return .temporaryFailure("spool file unreadable") }
                captured.update {
                    $0.append(Captured(
                        reversePath: message.reversePath?.description ?? "", recipients: message.recipients.map(\.description),
                        content: [UInt8](data)))
                }
                return .accepted
            }
        }

        // `# logins: user:password`: the authenticate hook accepts exactly those, as user@<the mail domain>;
        // for `# auth-tempfail: user` it throws, as a hook whose user database is down (454 4.7.0).
        let logins = Set(transcript.words("logins"))
        let unavailable = Set(transcript.words("auth-tempfail"))
        if !logins.isEmpty {
            hooks.authenticate = { request in
                if unavailable.contains(request.login) { throw TestClientError("user database down") }
                guard logins.contains("\(request.login):\(request.password)") else { return nil }
                return MailAddress(request.login.contains("@") ? request.login : "\(request.login)@\(mailDomain)")
            }
        }
        let usesTimeout = transcript.steps.contains(.event("timeout"))
        let usesTLS = settings["starttls"] == "on"
        let office = try TestPostOffice(
            users: users, domains: domains.filter { !$0.hasPrefix("[") }, hooks: hooks, tls: usesTLS
        ) { c in
            c.hostname = settings["hostname"] ?? "mx.example.test"
            func number(_ key: String) -> Int? { settings[key].flatMap { Int($0) } }
            if let v = number("maximumMessageSize") { c.limits.maximumMessageSize = v }
            if let v = number("maximumRecipients") { c.limits.maximumRecipients = v }
            if let v = number("softErrorLimit") { c.limits.softErrorLimit = v }
            if let v = number("hardErrorLimit") { c.limits.hardErrorLimit = v }
            if let v = number("smtpCommandLineLength") { c.limits.smtpCommandLineLength = v }
            if let v = number("smtpTextLineLength") { c.limits.smtpTextLineLength = v }
            if let v = settings["rejectLongTextLines"] { c.limits.rejectLongTextLines = ["on", "true", "yes"].contains(v) }
            // Error throttling is invisible in transcripts; keep it short so the run stays quick.
            c.limits.errorDelayMilliseconds = 1
            if transcript.directives["greeting"] == "none" {
                // The client talks first: a greeting delay long enough that its bytes always arrive inside it
                // (the early talker is answered and closed at once, so the run does not wait for the delay).
                c.limits.smtpGreetingDelayMilliseconds = 10_000
            }
            if let mechanisms = settings["auth"] {
                c.offersAuthenticationOnSMTP = true
                c.smtpAuthenticationMechanisms = mechanisms.split(separator: "+").compactMap { SASLMechanism(name: $0) }
                if settings["authWithoutTLS"] != "on" { c.plaintextAuthenticationNetworks = [] }
            }
            if usesTimeout {
                c.limits.smtpCommandTimeoutSeconds = 1
                c.limits.smtpDataTimeoutSeconds = 1
            }
        }
        defer { office.stop() }

        // requireAuth: the submission service, where MAIL needs AUTH (RFC 6409 §4.3).
        let address = settings["requireAuth"] == "on" ? office.submissionAddress : office.smtpAddress
        let client = TranscriptConnection(try LineClient(connectingTo: address, timeoutSeconds: 10))
        var matcher = SMTPReplyMatcher()
        var shutdownThread: Thread?
        let shutdownDone = DispatchSemaphore(value: 0)

        /// Reads until an unconsumed complete reply (a line with a space or nothing after its code) is there.
        func readCompleteReply() throws {
            while !matcher.unmatched.contains(where: { $0.count == 3 || ($0.count > 3 && Array($0)[3] == " ") }) {
                matcher.append(Array((try client.readLine() + "\r\n").utf8))
            }
        }

        // The client's lines between two expectations go in one write, as a pipelining client sends them
        // (STARTTLS with a command after it must reach the server in one read, or the command would land in
        // the TLS handshake).
        var unsent: [UInt8] = []
        func flush() {
            // A server that has already closed may refuse the write; the replies decide the verdict.
            if !unsent.isEmpty { try? client.send(unsent) }
            unsent = []
        }
        stepLoop: for step in transcript.steps {
            if case .write = step {} else { flush() }
            switch step {
            case .write(let bytes):
                unsent += bytes
            case .expect(var pattern):
                // The live server answers a stored message with its own reply, not the transcript's queue id.
                if let id = queueID, pattern == "250 2.0.0 Ok: queued as \(id)" { pattern = "250 2.0.0 Ok" }
                do {
                    try readCompleteReply()
                } catch {
                    Issue.record("\(name): waiting for `\(pattern)`: \(error); unmatched \(Array(matcher.unmatched))")
                    break stepLoop
                }
                if !matcher.match(pattern) {
                    Issue.record("\(name): `\(pattern)` does not match \(Array(matcher.unmatched))")
                    break stepLoop
                }
                if usesTLS, pattern == "220 2.0.0 Ready to start TLS" {
                    // The in-memory driver completes the handshake at once; here it happens on the wire.
                    do {
                        try client.startTLS()
                    } catch {
                        Issue.record("\(name): TLS handshake after STARTTLS: \(error)")
                        break stepLoop
                    }
                }
            case .event("shutdown"):
                let server = office.server
                let thread = Thread {
                    server.shutdown()
                    shutdownDone.signal()
                }
                thread.start()
                shutdownThread = thread
                // The listeners are gone once shutdown has begun; the session's shutdown request is queued
                // right after. Give it a moment so that the next write comes after it, as in the transcript.
                while !office.server.smtpAddresses.isEmpty { usleep(1_000) }
                usleep(300_000)
            case .event("timeout"):
                // The server's own one-second timer fires while the client says nothing.
                break
            case .event(let other):
                Issue.record("\(name): unknown event \(other)")
            }
        }
        flush()

        if transcript.directives["closed"] == "yes" {
            let rest = client.readToEnd()
            matcher.append(rest)
            #expect(client.isClosedByPeer(), "\(name): the server should have closed the connection")
        }
        #expect(matcher.unmatched.isEmpty, "\(name): unexpected server lines \(Array(matcher.unmatched))")
        if shutdownThread != nil {
            #expect(shutdownDone.wait(timeout: .now() + 30) == .success, "\(name): shutdown did not finish")
        }

        let messages = captured.value
        if let expected = transcript.directives["messages"].flatMap({ Int($0) }) {
            #expect(messages.count == expected, "\(name): messages stored")
        }
        for (index, expected) in transcript.expectedMessages.enumerated() {
            guard index < messages.count else {
                Issue.record("\(name): message \(index + 1) was not stored")
                break
            }
            var message = messages[index]
            if !logins.isEmpty, let content = expected.content, !String(decoding: content, as: UTF8.self).contains("Message-ID:") {
                // After AUTH the server completes the message (RFC 6409 §8): Date: and Message-ID: come first.
                let stored = delivery == .maildir ? Self.strippingTrace(message.content) : message.content
                let (fields, rest) = Self.splittingSubmissionFields(stored)
                #expect(fields == ["Date", "Message-ID"], "\(name): fields added at submission")
                message.content = rest
            }
            if let envelope = expected.envelope {
                // The hooks see the reverse path and recipients; the ESMTP parameters after them are the
                // engine tests' business.
                let actual = "from=<\(message.reversePath)> to=" + message.recipients.map { "<\($0)>" }.joined(separator: ",")
                #expect(
                    envelope == actual || envelope.hasPrefix(actual + " "),
                    "\(name): envelope of message \(index + 1): \(actual)")
            }
            if let content = expected.content {
                switch delivery {
                case .spool:
                    #expect(message.content == content, "\(name): spooled bytes of message \(index + 1)")
                case .maildir:
                    #expect(
                        Self.strippingTrace(message.content) == Self.lineFeeds(content),
                        "\(name): stored bytes of message \(index + 1): \(String(decoding: message.content, as: UTF8.self).debugDescription)")
                }
            }
        }
    }

    /// The replay's connection: plain TCP, then TLS from the STARTTLS go-ahead on.
    final class TranscriptConnection {
        let plain: LineClient
        private(set) var tls: TLSLineClient?

        init(_ plain: LineClient) { self.plain = plain }

        func startTLS() throws { tls = try TLSLineClient(over: plain) }

        func send(_ bytes: [UInt8]) throws {
            if let tls { try tls.send(bytes) } else { try plain.send(bytes) }
        }

        func readLine() throws -> String {
            if let tls { return try tls.readLine() }
            return try plain.readLine()
        }

        /// What comes until the server closes (decrypted under TLS).
        func readToEnd() -> [UInt8] {
            guard let tls else { return plain.readToEnd() }
            var all: [UInt8] = []
            while let line = try? tls.readLine() { all += Array((line + "\r\n").utf8) }
            return all
        }

        func isClosedByPeer() -> Bool {
            guard let tls else { return plain.isClosedByPeer() }
            return tls.session.isClosedByPeer || plain.isClosedByPeer()
        }
    }

    /// The leading `Date:` and `Message-ID:` lines a submission adds, by name, and the bytes after them.
    static func splittingSubmissionFields(_ bytes: [UInt8]) -> (names: [String], rest: [UInt8]) {
        var names: [String] = []
        var rest = bytes[...]
        while names.count < 2, let newline = rest.firstIndex(of: 10) {
            let line = String(decoding: rest[rest.startIndex..<newline], as: UTF8.self)
            guard let name = ["Date", "Message-ID"].first(where: { line.hasPrefix($0 + ": ") }) else { break }
            names.append(name)
            rest = rest[(newline + 1)...]
        }
        return (names, Array(rest))
    }

    /// CRLF pairs turned into LF (how the Maildir delivery stores lines); everything else as is.
    static func lineFeeds(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 13, index + 1 < bytes.count, bytes[index + 1] == 10 {
                index += 1
                continue
            }
            out.append(bytes[index])
            index += 1
        }
        return out
    }

    /// A stored Maildir file minus the leading Return-Path, Delivered-To and Received (with folded lines).
    static func strippingTrace(_ bytes: [UInt8]) -> [UInt8] {
        var rest = bytes[...]
        var inReceived = false
        while !rest.isEmpty {
            let end = rest.firstIndex(of: 10).map { $0 + 1 } ?? rest.endIndex
            let line = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
            if line.hasPrefix("Return-Path:") || line.hasPrefix("Delivered-To:") {
                inReceived = false
            } else if line.hasPrefix("Received:") {
                inReceived = true
            } else if !(inReceived && (line.hasPrefix(" ") || line.hasPrefix("\t"))) {
                break
            }
            rest = rest[end...]
        }
        return Array(rest)
    }
}
