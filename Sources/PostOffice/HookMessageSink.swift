// HookMessageSink: a message handed to the embedder's deliver hook. The bytes are spooled to a file (so
// memory never grows with message size), the hook gets its path at commit and says whether it stored it.

import PostOfficeCore
import PostOfficeDelivery

/// Spools one message and gives it to ``PostOfficeHooks/deliver``.
final class HookMessageSink: MessageSink, @unchecked Sendable {
    private let envelope: MessageEnvelope
    private let deliver: @Sendable (ReceivedMessage) -> DeliveryVerdict
    private let report: (@Sendable (DeliveryReport) -> Void)?
    private let spool: SpoolWriter

    init(
        envelope: MessageEnvelope, spoolDirectory: String, deliver: @escaping @Sendable (ReceivedMessage) -> DeliveryVerdict,
        report: (@Sendable (DeliveryReport) -> Void)?
    ) {
        self.envelope = envelope
        self.deliver = deliver
        self.report = report
        spool = SpoolWriter(directory: spoolDirectory, name: "\(envelope.sessionID).\(envelope.queueID)")
    }

    func append(_ bytes: [UInt8]) {
        spool.append(bytes)
    }

    func commit() -> DeliveryOutcome {
        defer { spool.discard() }
        let path: String
        do throws(DeliveryError) {
            path = try spool.finish()
        } catch {
            return error.outcome
        }
        let message = ReceivedMessage(
            sessionID: envelope.sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients,
            path: path, size: spool.size)
        switch deliver(message) {
        case .accepted:
            report?(DeliveryReport(
                sessionID: envelope.sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients,
                files: [], size: spool.size))
            return .delivered([])
        case .temporaryFailure(let text):
            return .temporaryFailure(EnhancedStatusCode(4, 3, 0), text)
        case .permanentFailure(let text):
            return .permanentFailure(EnhancedStatusCode(5, 3, 0), text)
        }
    }

    func abort() {
        spool.discard()
    }
}
