// MessageSinks: picks the sink for each accepted message — the embedder's deliver hook when there is one,
// else the local Maildirs (and, with the outbound queue, the queue for remote recipients; without it, a
// NOTIFY=SUCCESS report straight after the delivery) — so a session asks for "a sink for this envelope" and
// never knows which storage it feeds.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue

/// The message sinks of one server.
final class MessageSinks: Sendable {
    private let hooks: PostOfficeHooks
    private let deliveryAgent: LocalDeliveryAgent
    private let clock: any MailClock
    private let logSink: any LogSink
    /// The outbound queue, when this server forwards mail (nil: remote recipients are refused).
    let queue: QueueStore?
    /// Told after each message committed to the queue, so it is tried at once rather than at the next scan.
    let queued = QueueSignal()
    /// Where messages for the deliver hook are spooled.
    let spoolDirectory: String
    /// Sends NOTIFY=SUCCESS reports straight into local Maildirs when there is no queue.
    private let localReports: LocalReportSender?

    init(
        hooks: PostOfficeHooks, deliveryAgent: LocalDeliveryAgent, dataDirectory: String, queue: QueueStore?,
        clock: any MailClock, logSink: any LogSink, spoolsForLMTP: Bool = false, localReports: LocalReportSender? = nil
    ) throws {
        self.localReports = queue == nil ? localReports : nil
        self.hooks = hooks
        self.deliveryAgent = deliveryAgent
        self.queue = queue
        self.clock = clock
        self.logSink = logSink
        spoolDirectory = dataDirectory + "/spool"
        if hooks.deliver != nil || spoolsForLMTP { try FileSystem.createDirectory(atPath: spoolDirectory) }
    }

    /// A fresh queue id for a message's trace header and logs.
    func makeQueueID() -> String { deliveryAgent.makeQueueID() }

    /// Opens the sink for one message: local recipients to their Maildirs, remote ones (`queued`, whose
    /// envelope carries the DSN parameters) to the outbound queue, both committed before the reply.
    func open(
        envelope: MessageEnvelope, recipients: [ResolvedRecipient], queued: QueueEnvelope? = nil, trace: TraceInfo
    ) -> any MessageSink {
        if let deliver = hooks.deliver {
            return HookMessageSink(
                envelope: envelope, spoolDirectory: spoolDirectory, deliver: deliver, report: hooks.messageDelivered)
        }
        let local = recipients.isEmpty ? nil : MaildirMessageSink(
            envelope: envelope, recipients: recipients, trace: trace, agent: deliveryAgent, report: hooks.messageDelivered)
        // Without the queue, a local recipient's NOTIFY=SUCCESS report is made right after the delivery.
        if queue == nil, let localReports, let local, let queued, queued.recipients.contains(where: \.isDeliveredLocally) {
            return SuccessReportSink(wrapping: local, envelope: queued, queueID: envelope.queueID, sender: localReports)
        }
        guard let queued, !queued.recipients.isEmpty, let queue else {
            return local ?? MaildirMessageSink(
                envelope: envelope, recipients: recipients, trace: trace, agent: deliveryAgent, report: hooks.messageDelivered)
        }
        let remote = QueueMessageSink(
            store: queue, envelope: queued, trace: trace, date: clock.now(), sessionID: envelope.sessionID, logSink: logSink,
            onCommit: self.queued.fire)
        guard let local else { return remote }
        return SplitMessageSink(local: local, remote: remote)
    }
}

extension MessageSinks {
    /// Opens the sink for an LMTP message (RFC 2033): every recipient is local and is delivered on its own,
    /// so ``MessageSink/commitRecipients(count:)`` reports each. The embedder's deliver hook, when there
    /// is one, still takes the whole message and its one verdict answers for every recipient.
    func openPerRecipient(envelope: MessageEnvelope, recipients: [ResolvedRecipient], trace: TraceInfo) -> any MessageSink {
        if let deliver = hooks.deliver {
            return HookMessageSink(
                envelope: envelope, spoolDirectory: spoolDirectory, deliver: deliver, report: hooks.messageDelivered)
        }
        return LMTPMessageSink(
            envelope: envelope, recipients: recipients, trace: trace, agent: deliveryAgent, spoolDirectory: spoolDirectory,
            report: hooks.messageDelivered)
    }
}

/// A callback set once after start-up and fired from any thread.
final class QueueSignal: @unchecked Sendable {
    private let lock = Lock()
    private var action: (@Sendable (QueueCommit?) -> Void)?

    func set(_ action: @escaping @Sendable (QueueCommit?) -> Void) { lock.withLock { self.action = action } }

    @Sendable func fire(_ commit: QueueCommit?) { lock.withLock { action }?(commit) }
}
