// HookMessageSink: a message handed to the embedder's deliver hook. The bytes are spooled to a file (so
// memory never grows with message size), the hook gets its path at commit and says whether it stored it.

import PostOfficeCore
import PostOfficeDelivery

/// Spools one message and gives it to ``PostOfficeHooks/deliver``.
final class HookMessageSink: MessageSink, @unchecked Sendable {
    private let envelope: MessageEnvelope
    private let deliver: @Sendable (ReceivedMessage) -> DeliveryVerdict
    private let report: (@Sendable (DeliveryReport) -> Void)?
    private var spool: SpoolFile?
    private var failure: DeliveryError?
    private var size = 0

    init(
        envelope: MessageEnvelope, spoolDirectory: String, deliver: @escaping @Sendable (ReceivedMessage) -> DeliveryVerdict,
        report: (@Sendable (DeliveryReport) -> Void)?
    ) {
        self.envelope = envelope
        self.deliver = deliver
        self.report = report
        do throws(DeliveryError) {
            spool = try SpoolFile(directory: spoolDirectory, name: "\(envelope.sessionID).\(envelope.queueID)")
        } catch {
            failure = error
        }
    }

    func append(_ bytes: [UInt8]) {
        size += bytes.count
        guard failure == nil, let spool else { return }
        do throws(DeliveryError) {
            try spool.append(bytes)
        } catch {
            failure = error
            spool.discard()
            self.spool = nil
        }
    }

    func commit() -> DeliveryOutcome {
        if let failure { return failure.outcome }
        guard let spool else { return .temporaryFailure(EnhancedStatusCode(4, 3, 0), "No spool file") }
        defer {
            spool.discard()
            self.spool = nil
        }
        let path: String
        do throws(DeliveryError) {
            path = try spool.finish()
        } catch {
            return error.outcome
        }
        let message = ReceivedMessage(
            sessionID: envelope.sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients,
            path: path, size: size)
        switch deliver(message) {
        case .accepted:
            report?(DeliveryReport(
                sessionID: envelope.sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients,
                files: [], size: size))
            return .delivered([])
        case .temporaryFailure(let text):
            return .temporaryFailure(EnhancedStatusCode(4, 3, 0), text)
        case .permanentFailure(let text):
            return .permanentFailure(EnhancedStatusCode(5, 3, 0), text)
        }
    }

    func abort() {
        spool?.discard()
        spool = nil
    }
}
