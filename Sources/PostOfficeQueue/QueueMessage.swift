// QueueMessage: what scan() and load() return — id, envelope, state and where the message sits
// (active queue or failed/). The body is read separately, streaming, through QueueBodyReader.

/// A queued message without its body.
public struct QueueMessage: Hashable, Sendable {
    /// Which part of the queue directory holds the message.
    public enum Location: String, Hashable, Sendable {
        /// `messages/`: waiting for (or between) delivery attempts.
        case active
        /// `failed/`: every recipient is final and at least one failed; kept until a bounce is sent or
        /// an operator deletes it. Never removed silently.
        case failed
    }

    public var id: QueueID
    public var location: Location
    public var envelope: QueueEnvelope
    public var state: QueueMessageState
}
