// ClientTranscript: runs SMTPClientStateMachine against a scripted server: `S:` lines are fed to the engine,
// `C:` lines are what it must have sent by then. A scripted driver answers every other action.

import PostOfficeCore
import PostOfficeSMTP
import PostOfficeSMTPClient
import Testing

/// One scripted session: the server's lines, the client's expected lines, the messages the queue hands over.
struct ClientTranscript {
    var script: String
    var configuration = SMTPClientConfiguration(clientName: "client.example.org")
    /// Messages with their content (LF line ends, as Maildir keeps them), handed over at each readyForMessage.
    var messages: [(SMTPOutboundMessage, String)] = []
    /// How the driver slices content for contentAvailable.
    var contentChunkSize = 7
    var eightBitResolution = SMTPEightBitResolution.convertToSevenBit

    /// What a run produced, compared across splits.
    struct Outcome: Equatable {
        var recipientResults: [SMTPRecipientResult] = []
        var messageResults: [SMTPDeliveryResult] = []
        var sessionFailures: [SMTPDeliveryResult] = []
        var tlsHandshakes: [Bool] = []
        var decisions: [SMTPClientDecisionPoint] = []
        var isClosed = false
        var mismatches: [String] = []

        var recipientDispositions: [SMTPDisposition] { recipientResults.map(\.result.disposition) }
        var messageDispositions: [SMTPDisposition] { messageResults.map(\.disposition) }
    }

    /// A step: server bytes to feed (or an event), then the client bytes expected so far.
    enum Step {
        case server([UInt8])
        case closeConnection
        case timeout
        case expect([UInt8])
    }

    var steps: [Step] {
        var steps: [Step] = []
        var server: [UInt8] = []
        var client: [UInt8] = []
        func flushServer() {
            if !server.isEmpty { steps.append(.server(server)) }
            server = []
        }
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            let text = line.dropFirst(2).drop(while: { $0 == " " })
            if line.hasPrefix("C:") {
                flushServer()
                client += Array(text.utf8) + [13, 10]
            } else if line == "S: <close>" || line == "S: <timeout>" {
                flushServer()
                steps.append(.expect(client))
                steps.append(line == "S: <close>" ? .closeConnection : .timeout)
            } else if line.hasPrefix("S:") {
                if server.isEmpty { steps.append(.expect(client)) }
                server += Array(text.utf8) + [13, 10]
            } else {
                Issue.record("bad transcript line \(line)")
            }
        }
        flushServer()
        steps.append(.expect(client))
        return steps
    }

    /// Runs the script, each server group cut at `cut(groupLength)` (nil: in one piece; 1: byte at a time).
    func run(cutAt cut: Int? = nil, byteAtATime: Bool = false) -> Outcome {
        var driver = Driver(transcript: self)
        driver.perform(driver.engine.connected())
        for step in steps {
            switch step {
            case .server(let bytes):
                if byteAtATime {
                    for byte in bytes { driver.perform(driver.engine.receive([byte])) }
                } else {
                    let at = min(cut ?? bytes.count, bytes.count)
                    driver.perform(driver.engine.receive(bytes[..<at]))
                    driver.perform(driver.engine.receive(bytes[at...]))
                }
            case .closeConnection: driver.perform(driver.engine.connectionLost())
            case .timeout: driver.perform(driver.engine.timedOut())
            case .expect(let client):
                if driver.sent != client {
                    driver.outcome.mismatches.append(
                        "expected:\n\(String(decoding: client, as: UTF8.self))\nsent:\n\(String(decoding: driver.sent, as: UTF8.self))")
                }
            }
        }
        driver.outcome.isClosed = driver.engine.isClosed
        return driver.outcome
    }

    /// Runs whole, byte at a time and cut at every offset; all runs must agree and match the `C:` lines.
    func verify(sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
        let whole = run()
        #expect(whole.mismatches == [], sourceLocation: sourceLocation)
        let longest = steps.map { if case .server(let b) = $0 { b.count } else { 0 } }.max() ?? 0
        var runs = [run(byteAtATime: true)]
        runs += (0...longest).map { run(cutAt: $0) }
        for (index, other) in runs.enumerated() where other != whole {
            Issue.record("split run \(index) differs: \(other.mismatches.first ?? "results differ")", sourceLocation: sourceLocation)
            break
        }
        return whole
    }

    /// The scripted driver: performs actions in order, answering readContent, readyForMessage, startTLS and
    /// decisions itself.
    struct Driver {
        var engine: SMTPClientStateMachine
        var pending: [(SMTPOutboundMessage, String)]
        var chunkSize: Int
        var resolution: SMTPEightBitResolution
        var content: [UInt8] = []
        var offset = 0
        var sent: [UInt8] = []
        var outcome = Outcome()

        init(transcript: ClientTranscript) {
            engine = SMTPClientStateMachine(configuration: transcript.configuration)
            pending = transcript.messages
            chunkSize = transcript.contentChunkSize
            resolution = transcript.eightBitResolution
        }

        mutating func perform(_ actions: [SMTPClientAction]) {
            var queue = actions[...]
            while let action = queue.popFirst() {
                switch action {
                case .send(let bytes): sent += bytes
                case .startTLS(let verifying):
                    outcome.tlsHandshakes.append(verifying)
                    queue += engine.tlsEstablished()
                case .readContent:
                    if offset < content.count {
                        let end = min(offset + chunkSize, content.count)
                        let chunk = content[offset..<end]
                        offset = end
                        queue += engine.contentAvailable(chunk)
                    } else {
                        queue += engine.contentEnded()
                    }
                case .recipientResult(let result): outcome.recipientResults.append(result)
                case .messageResult(let result): outcome.messageResults.append(result)
                case .sessionFailed(let result): outcome.sessionFailures.append(result)
                case .readyForMessage:
                    if pending.isEmpty {
                        queue += engine.quit()
                    } else {
                        let (message, text) = pending.removeFirst()
                        content = Array(text.utf8)
                        offset = 0
                        queue += engine.deliver(message)
                    }
                case .needsDecision(let point):
                    outcome.decisions.append(point)
                    queue += engine.resolveEightBitContent(resolution)
                case .close: break
                }
            }
        }
    }
}

extension MailAddress {
    /// `"a@b"` in tests.
    static func test(_ text: String) -> MailAddress { MailAddress(text)! }
}

extension SMTPOutboundMessage {
    /// A message from alice@example.org to the given local parts at example.test.
    static func to(_ locals: String..., size: Int? = nil, isEightBit: Bool = false, requiresSMTPUTF8: Bool = false)
        -> SMTPOutboundMessage
    {
        SMTPOutboundMessage(
            from: .test("alice@example.org"), to: locals.map { .init(.test("\($0)@example.test")) }, size: size,
            isEightBit: isEightBit, requiresSMTPUTF8: requiresSMTPUTF8)
    }
}
