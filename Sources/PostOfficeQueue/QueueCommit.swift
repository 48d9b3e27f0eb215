// QueueCommit: what a draft's commit hands on in memory — the message as it now stands in messages/ and
// the store's scan count read before it got its name there — so the queue manager can start its first
// attempt without listing messages/ or reading the file back.

/// A message just committed, as a reader of its file would see it.
public struct QueueCommit: Sendable {
    /// Envelope (with the 8-bit flag found while writing) and first state, location ``QueueMessage/Location/active``.
    public let message: QueueMessage
    /// ``QueueStore/scansStarted`` read before the rename into `messages/`: while it has not moved, no
    /// ``QueueStore/scan(verifyBodies:)`` can have listed the message.
    public let scansBefore: Int
}
