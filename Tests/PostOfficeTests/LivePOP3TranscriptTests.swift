// LivePOP3TranscriptTests: runs the POP3 transcripts of POP3LiveTranscripts/ (format: its README.md) against a
// running server with real Maildir files, over one or more TCP connections, and checks every server line
// and the Maildir files left at the end.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct LivePOP3TranscriptTests {
    static let directory = LiveTestSupport.repositoryRoot + "/Tests/PostOfficeTests/POP3LiveTranscripts"
    static let names = LiveTestSupport.files(in: directory).filter { $0.hasSuffix(".txt") }

    @Test func transcriptsArePresent() {
        #expect(Self.names.count >= 7)
    }

    /// One step of a live POP3 transcript.
    enum Step {
        case send(connection: Int, bytes: [UInt8])
        case expect(connection: Int, pattern: String)
        case abort(connection: Int)
        case closed(connection: Int)
        case files(address: String, paths: [String])
    }

    struct Parsed {
        var users: [String: String] = [:]
        var messages: [(address: String, path: String, content: [UInt8])] = []
        var settings: [String: Int] = [:]
        var steps: [Step] = []
    }

    static func parse(_ text: String) throws -> Parsed {
        var parsed = Parsed()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let problem = SMTPTranscript.FormatError(line: index + 1, message: "cannot read `\(line)`")
            if line.hasPrefix("= ") {
                let words = line.dropFirst(2).split(separator: " ").map(String.init)
                guard let address = words.first else { throw problem }
                parsed.steps.append(.files(address: address, paths: Array(words.dropFirst()).sorted()))
                continue
            }
            if line.hasPrefix("! ") {
                let words = line.dropFirst(2).split(separator: " ", maxSplits: 3).map(String.init)
                switch words.first {
                case "user" where words.count == 3:
                    parsed.users[words[1]] = words[2]
                case "message" where words.count == 4:
                    parsed.messages.append((words[1], words[2], try SMTPTranscript.unescape(words[3], line: index + 1)))
                case "config" where words.count == 2:
                    let pair = words[1].split(separator: "=").map(String.init)
                    guard pair.count == 2, let value = Int(pair[1]) else { throw problem }
                    parsed.settings[pair[0]] = value
                case let word? where word.hasPrefix("abort"):
                    parsed.steps.append(.abort(connection: Int(word.dropFirst(5)) ?? 1))
                case let word? where word.hasPrefix("closed"):
                    parsed.steps.append(.closed(connection: Int(word.dropFirst(6)) ?? 1))
                default:
                    throw problem
                }
                continue
            }
            guard let colon = line.firstIndex(of: ":"), let kind = line.first else { throw problem }
            let connection = Int(line[line.index(after: line.startIndex)..<colon]) ?? 1
            var body = line[line.index(after: colon)...]
            if body.first == " " { body = body.dropFirst() }
            switch kind {
            case "C": parsed.steps.append(.send(connection: connection, bytes: Array((body + "\r\n").utf8)))
            case "R": parsed.steps.append(.send(connection: connection, bytes: try SMTPTranscript.unescape(String(body), line: index + 1)))
            case "S": parsed.steps.append(.expect(connection: connection, pattern: String(body)))
            default: throw problem
            }
        }
        return parsed
    }

    static func matches(_ pattern: String, _ line: String) -> Bool {
        if pattern.hasSuffix("*") { return line.hasPrefix(pattern.dropLast()) }
        return line == pattern
    }

    @Test(arguments: names)
    func replay(name: String) throws {
        let parsed = try Self.parse(try String(contentsOfFile: Self.directory + "/" + name, encoding: .utf8))
        let office = try TestPostOffice(users: parsed.users) { configuration in
            if let v = parsed.settings["failedLoginDelayMilliseconds"] { configuration.limits.failedLoginDelayMilliseconds = v }
            if let v = parsed.settings["failedLoginsPerMinutePerAddress"] { configuration.limits.failedLoginsPerMinutePerAddress = v }
            if let v = parsed.settings["pop3CommandLineLength"] { configuration.limits.pop3CommandLineLength = v }
        }
        defer { office.stop() }
        func maildir(_ address: String) throws -> String {
            let parsedAddress = try #require(MailAddress(address))
            return try #require(office.server.maildirPath(for: parsedAddress))
        }
        for message in parsed.messages {
            let root = try maildir(message.address)
            for sub in ["new", "cur", "tmp"] {
                try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
            }
            try Data(message.content).write(to: URL(fileURLWithPath: root + "/" + message.path))
        }

        var connections: [Int: LineClient] = [:]
        var open = 0
        func connection(_ number: Int) throws -> LineClient {
            if let existing = connections[number] { return existing }
            let client = try LineClient(connectingTo: office.pop3Address, timeoutSeconds: 10)
            connections[number] = client
            open += 1
            return client
        }
        /// Waits (bounded) until the server holds exactly the connections the transcript still has open.
        func waitForServerConnections() {
            for _ in 0..<500 where office.server.connectionCount > open { usleep(10_000) }
        }

        stepLoop: for step in parsed.steps {
            switch step {
            case .send(let number, let bytes):
                try? connection(number).send(bytes)
            case .expect(let number, let pattern):
                do {
                    let line = try connection(number).readLine()
                    if !Self.matches(pattern, line) {
                        Issue.record("\(name): connection \(number) expected `\(pattern)`, got `\(line)`")
                        break stepLoop
                    }
                } catch {
                    Issue.record("\(name): connection \(number) expected `\(pattern)`: \(error)")
                    break stepLoop
                }
            case .abort(let number):
                try connection(number).abort()
                connections[number] = nil
                open -= 1
                waitForServerConnections()
            case .closed(let number):
                let client = try connection(number)
                let rest = client.readToEnd()
                #expect(rest.isEmpty, "\(name): unexpected bytes \(String(decoding: rest, as: UTF8.self).debugDescription)")
                #expect(client.isClosedByPeer(), "\(name): connection \(number) should be closed by the server")
                connections[number] = nil
                open -= 1
            case .files:
                break
            }
        }
        // Every connection still open says nothing more; then the final state is checked.
        for (number, client) in connections.sorted(by: { $0.key < $1.key }) {
            client.abort()
            _ = number
        }
        connections = [:]
        open = 0
        waitForServerConnections()
        for case .files(let address, let expected) in parsed.steps {
            let root = try maildir(address)
            let actual = (LiveTestSupport.files(in: root + "/new").map { "new/" + $0 }
                + LiveTestSupport.files(in: root + "/cur").map { "cur/" + $0 }).sorted()
            #expect(actual == expected, "\(name): files of \(address)")
        }
    }
}
