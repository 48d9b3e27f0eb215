// POP3TranscriptTests: replays the C:/S: transcripts in Transcripts/ against the engine in memory.
// Format: "C: line" client line (CRLF added), "R: text" raw client bytes with \r \n \\ \xHH escapes,
// "S: line" expected server line, "A: action" expected runtime request, "D: decision" runtime callback
// (success, failure, in-use, temporary, sent, unavailable, update-ok, update-failed, timeout, shutdown),
// "! plaintext yes|no", "! stls", "! apop <timestamp>", "! message <uid> <key> <octets>" set-up lines
// (before the first exchange), "#" comments. The greeting is produced before the first exchange line.
import Foundation
import Testing
@testable import PostOfficePOP3

@Suite struct POP3TranscriptTests {
    static let directory = Bundle.module.url(forResource: "Transcripts", withExtension: nil)

    static let names: [String] = {
        guard let directory,
            let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        else { return [] }
        return files.filter { $0.hasSuffix(".txt") }.sorted()
    }()

    @Test func transcriptsArePresent() {
        #expect(Self.names.count >= 5)
    }

    @Test(arguments: names)
    func replay(name: String) throws {
        let url = try #require(Self.directory?.appendingPathComponent(name))
        let text = try String(contentsOf: url, encoding: .utf8)
        var configuration = POP3TestSession.configuration()
        var messages: [POP3MessageInfo] = []
        var session: POP3TestSession?
        var produced: [String] = []
        var lineNumber = 0

        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = String(rawLine)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("! ") {
                let words = line.dropFirst(2).split(separator: " ").map(String.init)
                switch words.first {
                case "plaintext": configuration.allowsPlaintextAuthentication = words.last == "yes"
                case "stls": configuration.isSTLSAvailable = true
                case "apop":
                    configuration.isAPOPEnabled = true
                    configuration.apopTimestamp = words.last
                case "message" where words.count == 4:
                    messages.append(POP3MessageInfo(uniqueID: words[1], octets: Int(words[3]) ?? 0, storageKey: words[2]))
                default: Issue.record("\(name):\(lineNumber): unknown set-up line \(line)")
                }
                continue
            }
            if session == nil {
                var started = POP3TestSession(configuration: configuration)
                produced += started.start()
                session = started
            }
            guard var current = session else { continue }
            let prefix = String(line.prefix(3))
            let body = String(line.dropFirst(3))
            switch prefix {
            case "C: ":
                produced += current.line(body)
            case "R: ":
                produced += current.bytes(Self.unescape(body))
            case "D: ":
                produced += POP3TestSession.render(Self.decide(body, machine: &current.machine, messages: messages))
            case "S: ", "A: ":
                let actual = produced.isEmpty ? "(nothing)" : produced.removeFirst()
                #expect(actual == line, "\(name):\(lineNumber)")
            default:
                Issue.record("\(name):\(lineNumber): unknown line \(line)")
            }
            session = current
        }
        #expect(produced.isEmpty, "\(name): unexpected output \(produced)")
    }

    static func unescape(_ text: String) -> [UInt8] {
        let input = Array(text.utf8)
        var output: [UInt8] = []
        var index = 0
        while index < input.count {
            let byte = input[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < input.count else {
                output.append(byte)
                index += 1
                continue
            }
            switch input[index + 1] {
            case UInt8(ascii: "r"): output.append(13); index += 2
            case UInt8(ascii: "n"): output.append(10); index += 2
            case UInt8(ascii: "x") where index + 3 < input.count:
                let hex = String(decoding: input[(index + 2)...(index + 3)], as: UTF8.self)
                output.append(UInt8(hex, radix: 16) ?? 0)
                index += 4
            default: output.append(input[index + 1]); index += 2
            }
        }
        return output
    }

    static func decide(_ decision: String, machine: inout POP3ServerStateMachine, messages: [POP3MessageInfo]) -> [POP3Action] {
        switch decision {
        case "success": return machine.authenticationFinished(.success(messages))
        case "failure": return machine.authenticationFinished(.failure)
        case "in-use": return machine.authenticationFinished(.inUse)
        case "temporary": return machine.authenticationFinished(.temporaryFailure)
        case "sent": return machine.messageSent()
        case "unavailable": return machine.messageUnavailable()
        case "update-ok": return machine.updateFinished(success: true)
        case "update-failed": return machine.updateFinished(success: false)
        case "timeout": return machine.timedOut()
        case "shutdown": return machine.beginShutdown()
        default:
            Issue.record("unknown decision \(decision)")
            return []
        }
    }
}
