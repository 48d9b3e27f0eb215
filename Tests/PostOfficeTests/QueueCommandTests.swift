// QueueCommandTests: `postoffice queue` through the built binary on a queue filled with QueueStore directly —
// list (text and JSON), show, hold and release, flush, requeue, delete, bad and unknown IDs — and the
// deliver_outbound and queue_directory config keys.

import Foundation
import PostOffice
import PostOfficeCore
import PostOfficeQueue
import PostOfficeTesting
import Testing

@Suite(.serialized) struct QueueCommandTests {
    static let enabled = CommandLineEndToEndTests.binary != nil

    /// A data folder with deliver_outbound on and two queued messages: `fresh` (two recipients, pending) and
    /// `deferred` (one recipient, a 4.4.1 an hour from now).
    struct Fixture {
        let data: String
        let fresh: String
        let deferred: String
        let store: QueueStore

        init() throws {
            data = try LiveTestSupport.temporaryDirectory("queuecli")
            try "deliver_outbound = yes\n".write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
            let clock = SystemClock()
            let store = try QueueStore(path: data + "/queue", clock: clock, random: SystemRandomSource(), logSink: DiscardingLogSink())
            self.store = store
            func queue(_ recipients: [String], subject: String, envelopeID: String? = nil) throws -> QueueID {
                let envelope = QueueEnvelope(
                    reversePath: MailAddress("alice@example.test"), arrival: clock.now(),
                    recipients: try recipients.map { QueueRecipient(try #require(MailAddress($0))) }, envelopeID: envelopeID,
                    isLocalSender: true)
                let draft = try store.begin(envelope)
                try draft.append(Array("From: alice@example.test\r\nSubject: \(subject)\r\n\r\nbody line\r\n".utf8))
                return try draft.commit()
            }
            let fresh = try queue(["bob@example.org", "carol@example.net"], subject: "fresh", envelopeID: "env-1").rawValue
            let later = try queue(["dave@example.org"], subject: "deferred")
            let hour = MailTime(seconds: clock.now().seconds + 3600)
            try store.record(later, results: [0: .temporaryFailure(EnhancedStatusCode(4, 4, 1), "connection refused", nextAttempt: hour)])
            self.fresh = fresh
            deferred = later.rawValue
        }

        func run(_ arguments: [String]) throws -> CommandLineEndToEndTests.Outcome {
            try CommandLineEndToEndTests.run(["queue"] + arguments + ["--data", data])
        }

        func json() throws -> [String: Any] {
            let outcome = try run(["list", "--json"])
            #expect(outcome.status == 0, "\(outcome.errorOutput)")
            let value = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8))
            return try #require(value as? [String: Any])
        }

        func message(_ id: String, in document: [String: Any]) throws -> [String: Any]? {
            let messages = try #require(document["messages"] as? [[String: Any]])
            return messages.first { $0["id"] as? String == id }
        }
    }

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"))
    func listShowsEveryMessageWithItsRecipientsLikeMailq() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.data) }
        let outcome = try fixture.run(["list"])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        let lines = outcome.output.split(separator: "\n").map(String.init)
        let first = try #require(lines.first { $0.hasPrefix(fixture.fresh) })
        #expect(first.contains("alice@example.test"))
        #expect(lines.contains { $0.hasPrefix("    bob@example.org  pending, 0 attempts, next ") })
        #expect(lines.contains { $0.hasPrefix("    carol@example.net  pending") })
        #expect(lines.contains { $0.hasPrefix("    dave@example.org  deferred, 1 attempt, next ") && $0.hasSuffix(": 4.4.1 connection refused") })
        #expect(lines.last?.hasPrefix("-- 2 messages, ") == true)
    }

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"))
    func listJSONIsOneDocumentWithStableFieldNames() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.data) }
        let document = try fixture.json()
        #expect(document["queue_directory"] as? String == fixture.data + "/queue")
        let fresh = try #require(try fixture.message(fixture.fresh, in: document))
        #expect(fresh["location"] as? String == "active")
        #expect(fresh["held"] as? Bool == false)
        #expect(fresh["sender"] as? String == "alice@example.test")
        #expect(fresh["envelope_id"] as? String == "env-1")
        #expect((fresh["size"] as? Int ?? 0) > 0)
        #expect((fresh["arrival"] as? String)?.hasSuffix("Z") == true)
        let recipients = try #require(fresh["recipients"] as? [[String: Any]])
        #expect(recipients.map { $0["address"] as? String } == ["bob@example.org", "carol@example.net"])
        #expect(recipients.allSatisfy { $0["status"] as? String == "pending" && $0["attempts"] as? Int == 0 })
        #expect(recipients.allSatisfy { $0["last_attempt"] is NSNull && $0["status_code"] is NSNull && $0["reply"] as? String == "" })
        let deferred = try #require(try fixture.message(fixture.deferred, in: document))
        #expect(deferred["envelope_id"] is NSNull)
        let dave = try #require((deferred["recipients"] as? [[String: Any]])?.first)
        #expect(dave["status"] as? String == "deferred")
        #expect(dave["attempts"] as? Int == 1)
        #expect(dave["status_code"] as? String == "4.4.1")
        #expect(dave["reply"] as? String == "connection refused")
        #expect(dave["next_attempt"] is String)
        #expect(dave["last_attempt"] is String)
    }

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"))
    func showPrintsTheEnvelopeStateAndHeaders() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.data) }
        let outcome = try fixture.run(["show", fixture.fresh.uppercased()])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(outcome.output.contains("id:          \(fixture.fresh)\n"))
        #expect(outcome.output.contains("state:       active\n"))
        #expect(outcome.output.contains("sender:      alice@example.test\n"))
        #expect(outcome.output.contains("envelope id: env-1\n"))
        #expect(outcome.output.contains("recipient:   bob@example.org  pending"))
        #expect(outcome.output.hasSuffix("\nFrom: alice@example.test\nSubject: fresh\n"), "\(outcome.output)")
        #expect(!outcome.output.contains("body line"))
    }

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"))
    func holdReleaseRequeueAndDeleteChangeTheQueue() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.data) }
        let deferredID = try #require(QueueID(fixture.deferred))

        var outcome = try fixture.run(["hold", fixture.deferred])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(outcome.output.hasPrefix("held \(fixture.deferred)"))
        #expect(try fixture.store.load(deferredID).state.isHeld)
        #expect(try fixture.message(fixture.deferred, in: fixture.json())?["held"] as? Bool == true)
        #expect(try fixture.run(["list"]).output.split(separator: "\n").contains { $0.hasPrefix(fixture.deferred) && $0.hasSuffix("HELD") })

        // flush leaves a held message alone, and says so.
        outcome = try fixture.run(["flush"])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(outcome.output.contains("no message is waiting for a later attempt"))
        #expect(outcome.output.contains("left \(fixture.deferred) alone: it is held"))

        outcome = try fixture.run(["release", fixture.deferred])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(try !fixture.store.load(deferredID).state.isHeld)

        // flush of another domain does nothing; of the right one, the deferred recipient is due now.
        outcome = try fixture.run(["flush", "example.net"])
        #expect(outcome.output.contains("no message with recipients in example.net is waiting for a later attempt"))
        outcome = try fixture.run(["flush", "EXAMPLE.org"])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(outcome.output.contains("made 1 message with recipients in EXAMPLE.org due now"))
        #expect(outcome.output.contains("no server answers on the control socket"))
        #expect(outcome.output.contains("  \(fixture.deferred)\n"))
        let now = SystemClock().now()
        #expect(try fixture.store.load(deferredID).state.recipients[0].nextAttempt <= now)

        outcome = try fixture.run(["requeue", fixture.fresh])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(outcome.output.hasPrefix("requeued \(fixture.fresh): 2 recipients due now"))

        outcome = try fixture.run(["delete", fixture.fresh])
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(outcome.output == "deleted \(fixture.fresh) (no bounce sent)\n")
        #expect(try fixture.message(fixture.fresh, in: fixture.json()) == nil)
        #expect(try fixture.store.scan().map(\.id.rawValue) == [fixture.deferred])
    }

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"))
    func aSubmittedMessageIsListedWhileTheServerRuns() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.deliversOutbound = true }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        _ = try client.login("alice@example.test", password: "pw")
        #expect(try client.command("MAIL FROM:<alice@example.test> ENVID=live-1").code == 250)
        #expect(try client.command("RCPT TO:<friend@elsewhere.test>").code == 250)
        #expect(try client.command("DATA").code == 354)
        try client.connection.send(SMTPTestClient.stuffed("Subject: through submission\n\nhello\n"))
        #expect(try client.readReply().code == 250)
        _ = try? client.command("QUIT")

        let listed = try CommandLineEndToEndTests.run(["queue", "list", "--json", "--data", office.dataDirectory])
        #expect(listed.status == 0, "\(listed.errorOutput)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any])
        let message = try #require((document["messages"] as? [[String: Any]])?.first { $0["envelope_id"] as? String == "live-1" })
        let id = try #require(message["id"] as? String)
        #expect(message["sender"] as? String == "alice@example.test")
        #expect((message["recipients"] as? [[String: Any]])?.map { $0["address"] as? String } == ["friend@elsewhere.test"])
        let shown = try CommandLineEndToEndTests.run(["queue", "show", id, "--data", office.dataDirectory])
        #expect(shown.status == 0, "\(shown.errorOutput)")
        #expect(shown.output.contains("\nReceived: "))
        #expect(shown.output.contains("\nSubject: through submission\n"))
    }

    struct BadID: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let status: Int32
        let expected: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let badIDs = [
        BadID(arguments: ["show", "xyz"], status: 64, expected: "'xyz' is not a queue ID"),
        BadID(arguments: ["delete", "../../etc"], status: 64, expected: "'../../etc' is not a queue ID"),
        BadID(arguments: ["hold"], status: 64, expected: "queue hold needs exactly one ID"),
        BadID(arguments: ["release", "0123456789a", "0123456789b"], status: 64, expected: "needs exactly one ID"),
        BadID(arguments: ["frobnicate"], status: 64, expected: "unknown queue action 'frobnicate'"),
        BadID(arguments: ["show", "--json", "0123456789a"], status: 64, expected: "--json belongs to queue list"),
        BadID(arguments: ["show", "0123456789abcdef0123"], status: 1, expected: "no queued message 0123456789abcdef0123"),
        BadID(arguments: ["requeue", "0123456789abcdef0123"], status: 1, expected: "no queued message 0123456789abcdef0123"),
    ]

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"), arguments: badIDs)
    func badAndUnknownIDsSayWhatIsWrong(_ bad: BadID) throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.data) }
        let outcome = try fixture.run(bad.arguments)
        #expect(outcome.status == bad.status, "\(outcome.errorOutput)")
        #expect(outcome.output.isEmpty)
        #expect(outcome.errorOutput.hasPrefix("postoffice: "))
        #expect(outcome.errorOutput.split(separator: "\n").count == 1, "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.contains(bad.expected), "\(outcome.errorOutput)")
        #expect(try fixture.store.scan().count == 2)
    }

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"))
    func withoutAQueueFolderTheQueueIsEmptyAndNothingIsCreated() throws {
        let data = try LiveTestSupport.temporaryDirectory("queuecli-empty")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let text = try CommandLineEndToEndTests.run(["queue", "list", "--data", data])
        #expect(text.status == 0, "\(text.errorOutput)")
        #expect(text.output == "the queue is empty\n")
        let json = try CommandLineEndToEndTests.run(["queue", "list", "--json", "--data", data])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect((document["messages"] as? [Any])?.isEmpty == true)
        let flush = try CommandLineEndToEndTests.run(["queue", "flush", "--data", data])
        #expect(flush.output == "no server answers on the control socket: editing the queue directly\nno message is waiting for a later attempt\n")
        #expect(try CommandLineEndToEndTests.run(["queue", "show", "0123456789a", "--data", data]).status == 1)
        #expect(!FileManager.default.fileExists(atPath: data + "/queue"))
    }

    @Test(.enabled(if: enabled, "the postoffice binary is not built (swift build --product postoffice)"))
    func queueHasItsOwnHelpAndIsListedInTheMainHelp() throws {
        let own = try CommandLineEndToEndTests.run(["queue", "--help"])
        #expect(own.status == 0)
        #expect(own.output.contains("postoffice queue flush [DOMAIN]"))
        #expect(own.output.contains("Examples:"))
        let main = try CommandLineEndToEndTests.run(["--help"])
        #expect(main.output.contains("postoffice queue list [--json]"))
    }

    @Test func deliverOutboundAndQueueDirectoryAreConfigKeys() throws {
        let base = PostOfficeConfiguration(dataDirectory: "/srv/po")
        #expect(!base.deliversOutbound)
        let parsed = try ConfigurationFile.parse("deliver_outbound = yes\nqueue_directory = spool/out\n", fileName: "t.conf", base: base)
        #expect(parsed.deliversOutbound)
        #expect(parsed.queueDirectory == "/srv/po/spool/out")
        let rendered = ConfigurationFile.render(parsed)
        #expect(rendered.contains("deliver_outbound = yes"))
        #expect(rendered.contains("queue_directory = spool/out"))
        #expect(ConfigurationFile.render(base).contains("queue_directory = queue"))
        #expect(throws: ConfigurationError.self) { try ConfigurationFile.parse("deliver_outbound = maybe\n", fileName: "t.conf", base: base) }
    }
}
