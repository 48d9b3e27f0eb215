// MaildirMessageSink: a message delivered into local Maildirs through one delivery transaction (write to
// tmp/, fsync, link or copy into every recipient's new/, fsync the directories), then reported to the
// embedder's messageDelivered hook with the files it wrote.

import PostOfficeCore
import PostOfficeDelivery

/// Streams one message into a ``DeliveryTransaction`` for its local recipients.
final class MaildirMessageSink: MessageSink, @unchecked Sendable {
    private let envelope: MessageEnvelope
    private let report: (@Sendable (DeliveryReport) -> Void)?
    private var transaction: DeliveryTransaction?
    private var failure: DeliveryError?
    private var size = 0

    init(
        envelope: MessageEnvelope, recipients: [ResolvedRecipient], trace: TraceInfo, agent: LocalDeliveryAgent,
        report: (@Sendable (DeliveryReport) -> Void)?
    ) {
        self.envelope = envelope
        self.report = report
        do throws(DeliveryError) {
            transaction = try agent.beginTransaction(reversePath: envelope.reversePath, recipients: recipients, trace: trace)
        } catch {
            failure = error
        }
    }

    func append(_ bytes: [UInt8]) {
        size += bytes.count
        guard failure == nil, let transaction else { return }
        do throws(DeliveryError) {
            try transaction.append(bytes)
        } catch {
            failure = error
            transaction.abort()
            self.transaction = nil
        }
    }

    func commit() -> DeliveryOutcome {
        if let failure { return failure.outcome }
        guard let transaction else { return .temporaryFailure(EnhancedStatusCode(4, 3, 0), "No transaction") }
        self.transaction = nil
        let result = transaction.commit()
        guard case .delivered(let names) = result.overall else { return result.overall }
        // Finding the files costs a stat per copy: only when someone listens.
        if let report {
            report(DeliveryReport(
                sessionID: envelope.sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients,
                files: Self.paths(of: names, in: result), size: size))
        }
        return result.overall
    }

    func abort() {
        transaction?.abort()
        transaction = nil
    }

    /// The full paths of the stored files: the transaction reports base names, and each name lives in the
    /// `new/` folder of exactly one of the recipients' Maildirs (names are unique per copy).
    private static func paths(of names: [String], in result: DeliveryResult) -> [String] {
        var directories: [String] = []
        for outcome in result.recipients {
            for mailbox in outcome.mailboxes where !directories.contains(mailbox.destination.path) {
                directories.append(mailbox.destination.path)
            }
        }
        return names.map { name in
            let candidates = directories.map { $0 + "/new/" + name }
            return candidates.first { FileSystem.fileExists(atPath: $0) } ?? name
        }
    }
}
