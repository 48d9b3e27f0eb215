// QueueTestSupport: a fresh queue in a temporary directory with a manual clock, seeded randomness and a
// recording log sink; envelope and file helpers shared by the queue tests.

import Foundation
import PostOfficeCore
@testable import PostOfficeQueue

/// Records every log record.
final class RecordingLogSink: LogSink, @unchecked Sendable {
    private let lock = Lock()
    private var stored: [LogRecord] = []
    func log(_ record: LogRecord) { lock.withLock { stored.append(record) } }
    var records: [LogRecord] { lock.withLock { stored } }
    func events(_ name: String) -> [LogRecord] { records.filter { $0.event == name } }
}

/// A queue under a new temporary directory; removed when the fixture is released.
final class QueueFixture: Sendable {
    let root: String
    let clock = ManualClock(MailTime(seconds: 1_700_000_000))
    let random = SeededRandomSource(seed: 14)
    let logs = RecordingLogSink()
    let store: QueueStore

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("po-queue-\(UUID().uuidString)").path
        store = try QueueStore(path: root + "/queue", clock: clock, random: random, logSink: logs)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var queuePath: String { root + "/queue" }

    func messagePath(_ id: QueueID, _ location: QueueMessage.Location = .active) -> String {
        queuePath + (location == .active ? "/messages/" : "/failed/") + id.rawValue
    }

    func entries(_ subdirectory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: queuePath + "/" + subdirectory)) ?? []).sorted()
    }

    func envelope(recipients: Int = 2, from sender: String? = "alice@example.org") -> QueueEnvelope {
        QueueEnvelope(
            reversePath: sender.flatMap(MailAddress.init),
            arrival: clock.now(),
            recipients: (0..<recipients).map {
                QueueRecipient(MailAddress("user\($0)@example.net")!, originalRecipient: "rfc822;user\($0)@example.net", notify: $0 == 0 ? "FAILURE,DELAY" : nil)
            },
            envelopeID: "env-1", returnContent: "HDRS", isLocalSender: true)
    }

    /// Commits a message with `body` and returns its id.
    @discardableResult
    func commit(_ body: [UInt8] = Array("Subject: hi\r\n\r\nhello\r\n".utf8), recipients: Int = 2, from sender: String? = "alice@example.org") throws -> QueueID {
        let draft = try store.begin(envelope(recipients: recipients, from: sender))
        try draft.append(body)
        return try draft.commit()
    }
}

func fileBytes(_ path: String) -> [UInt8] {
    FileManager.default.contents(atPath: path).map { Array($0) } ?? []
}

func writeBytes(_ bytes: [UInt8], to path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}
