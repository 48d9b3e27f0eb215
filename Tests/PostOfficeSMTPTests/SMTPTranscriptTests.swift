// SMTPTranscriptTests: runs every Transcripts/*.txt against the engine with an in-memory driver.
// Each transcript runs as written, one byte per write, and (without events) as a single write: same replies.
//
// The in-memory driver: `# users:` exist, `# domains:` are local; RCPT to an unknown user of a local domain
// gets 550 5.1.1, any other domain 550 5.7.1; `# reject-senders:` get 550 5.7.1 at MAIL; commits are accepted
// unless `# commit: tempfail` (451 4.3.0) or `# commit: id=X` (250 ... queued as X). See Transcripts/README.md.

import Foundation
import PostOfficeCore
import PostOfficeTesting
import Testing

@testable import PostOfficeSMTP

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

    /// Every reply of the catalogue appears in some transcript (by its first line, exactly), except the one
    /// an in-memory driver that resolves at once cannot provoke (covered by the state machine tests).
    @Test func transcriptsCoverTheCatalogue() throws {
        var expected: Set<String> = []
        for name in Self.names {
            for case .expect(let pattern) in try Self.load(name).steps { expected.insert(pattern) }
        }
        let notProvokable: Set<SMTPReply> = [.tooMuchPipelinedInput]
        // Replies whose text the engine or driver completes: compared up to the variable part.
        let variable: [SMTPReply: String] = [
            .messageAccepted(id: "X"): "250 2.0.0 Ok: queued as ", .chunkReceived(octets: 1): "250 2.0.0 Ok: ",
            .unknownParameter: "555 5.5.4 Error: unsupported parameter",
        ]
        for reply in SMTPReplyTests.catalogue where !notProvokable.contains(reply) {
            let first = reply.description.split(separator: "\r\n").first.map(String.init) ?? ""
            let covered = expected.contains { pattern in
                if let prefix = variable[reply] { return pattern.hasPrefix(prefix) }
                return pattern == first || (pattern.hasSuffix("*") && pattern.count > 3 && first.hasPrefix(pattern.dropLast()))
            }
            #expect(covered, "no transcript shows `\(first)`")
        }
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
        #expect(
            driver.matcher.unmatched.isEmpty, "\(name) [\(mode)]: unexpected replies \(Array(driver.matcher.unmatched))"
        )
        #expect(driver.problems.isEmpty, "\(name) [\(mode)]: \(driver.problems)")
        #expect(driver.current == nil || !driver.closed, "\(name) [\(mode)]: closed with a message open")
        if let expected = transcript.directives["messages"].flatMap(Int.init) {
            #expect(driver.accepted.count == expected, "\(name) [\(mode)]: accepted \(driver.accepted.count) messages")
        }
        if let expected = transcript.directives["queue-runs"] {
            #expect(driver.queueRuns.map(\.text).joined(separator: " ") == expected, "\(name) [\(mode)]: queue runs \(driver.queueRuns)")
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
