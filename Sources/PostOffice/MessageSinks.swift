// MessageSinks: picks the sink for each accepted message — the embedder's deliver hook when there is one,
// else the local Maildirs (and, with the outbound issue, the queue for remote recipients) — so a session
// asks for "a sink for this envelope" and never knows which storage it feeds.

import PostOfficeCore
import PostOfficeDelivery

/// The message sinks of one server.
final class MessageSinks: Sendable {
    private let hooks: PostOfficeHooks
    private let deliveryAgent: LocalDeliveryAgent
    /// Where messages for the deliver hook are spooled.
    let spoolDirectory: String

    init(hooks: PostOfficeHooks, deliveryAgent: LocalDeliveryAgent, dataDirectory: String) throws {
        self.hooks = hooks
        self.deliveryAgent = deliveryAgent
        spoolDirectory = dataDirectory + "/spool"
        if hooks.deliver != nil { try FileSystem.createDirectory(atPath: spoolDirectory) }
    }

    /// A fresh queue id for a message's trace header and logs.
    func makeQueueID() -> String { deliveryAgent.makeQueueID() }

    /// Opens the sink for one message.
    func open(envelope: MessageEnvelope, recipients: [ResolvedRecipient], trace: TraceInfo) -> any MessageSink {
        if let deliver = hooks.deliver {
            return HookMessageSink(
                envelope: envelope, spoolDirectory: spoolDirectory, deliver: deliver, report: hooks.messageDelivered)
        }
        return MaildirMessageSink(
            envelope: envelope, recipients: recipients, trace: trace, agent: deliveryAgent, report: hooks.messageDelivered)
    }
}
