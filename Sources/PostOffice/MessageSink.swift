// MessageSink: where an accepted message's bytes go between the start of its content and its commit —
// the recipients' Maildirs, an embedder's deliver hook, and (with the outbound queue) the queue. Sinks know
// no protocol: a session streams bytes in and turns the commit's DeliveryOutcome into its own reply.

import PostOfficeCore
import PostOfficeDelivery

/// One message on its way to storage. Owned by one session; `commit()` runs on the storage pool after the
/// session has let go of it, and returns only once the message is durable (or has failed).
protocol MessageSink: AnyObject, Sendable {
    /// Appends message bytes (CRLF line endings, dot-unstuffed). Failures are remembered for `commit`.
    func append(_ bytes: [UInt8])
    /// Makes the message durable. `.delivered` carries the names of the files written (may be empty).
    func commit() -> DeliveryOutcome
    /// Gives up on the message and removes whatever was written.
    func abort()
    /// Makes the message durable for each of its `count` accepted recipients separately (LMTP, RFC 2033
    /// §4.2), one outcome each in RCPT order. Sinks that store a message all-or-nothing give every
    /// recipient the one outcome of ``commit()``.
    func commitRecipients(count: Int) -> [DeliveryOutcome]
}

extension MessageSink {
    func commitRecipients(count: Int) -> [DeliveryOutcome] {
        Array(repeating: commit(), count: max(1, count))
    }
}

/// The envelope and trace facts every sink is given.
struct MessageEnvelope: Sendable {
    var sessionID: String
    var queueID: String
    /// nil for the null reverse-path `<>`.
    var reversePath: MailAddress?
    var recipients: [MailAddress]
}
