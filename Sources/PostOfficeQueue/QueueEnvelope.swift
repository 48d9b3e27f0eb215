// QueueEnvelope: everything about a queued message except its bytes and its delivery progress. Written
// once, at the head of the message file, and never changed; progress lives in the state records after the body.

import PostOfficeCore

/// The SMTP envelope of a queued message ([RFC 5321 §2.3.1](https://www.rfc-editor.org/rfc/rfc5321#section-2.3.1)).
public struct QueueEnvelope: Hashable, Sendable {
    /// The reverse-path; nil for the null reverse-path `<>` (a bounce, which is never bounced itself).
    public var reversePath: MailAddress?
    /// When the message was accepted; the retry schedule and the queue lifetimes count from it.
    public var arrival: MailTime
    /// The recipients, in the order given; recipient state is kept by this index.
    public var recipients: [QueueRecipient]
    /// The stored body size in bytes. Set by ``QueueDraft/commit()`` from the bytes written; any value
    /// passed to ``QueueStore/begin(_:)`` is ignored.
    public var messageSize: Int
    /// The `ENVID=` parameter ([RFC 3461 §4.4](https://www.rfc-editor.org/rfc/rfc3461#section-4.4)).
    public var envelopeID: String?
    /// The `RET=` parameter (`FULL` or `HDRS`) ([RFC 3461 §4.3](https://www.rfc-editor.org/rfc/rfc3461#section-4.3)).
    public var returnContent: String?
    /// True when the sender is local or authenticated (the message may be relayed anywhere).
    public var isLocalSender: Bool
    /// True for a double bounce this server made (a notice to the postmaster about an undeliverable
    /// report): if it fails too it is dropped, never reported again.
    public var isDoubleBounce: Bool
    /// True when the message was received as `BODY=8BITMIME` or with `SMTPUTF8`: a report returning it
    /// declares its third part `8bit`.
    public var is8Bit: Bool
    /// True when the stored body has an octet above 127, false when it has none, nil when not known (a
    /// message queued by a release that did not record it: read the body to find out). Set by
    /// ``QueueDraft/commit()`` from the bytes written; any value passed to ``QueueStore/begin(_:)`` is ignored.
    public var hasEightBitOctets: Bool?

    public init(
        reversePath: MailAddress?, arrival: MailTime, recipients: [QueueRecipient], messageSize: Int = 0,
        envelopeID: String? = nil, returnContent: String? = nil, isLocalSender: Bool = false,
        isDoubleBounce: Bool = false, is8Bit: Bool = false, hasEightBitOctets: Bool? = nil
    ) {
        self.reversePath = reversePath
        self.arrival = arrival
        self.recipients = recipients
        self.messageSize = messageSize
        self.envelopeID = envelopeID
        self.returnContent = returnContent
        self.isLocalSender = isLocalSender
        self.isDoubleBounce = isDoubleBounce
        self.is8Bit = is8Bit
        self.hasEightBitOctets = hasEightBitOctets
    }

    /// True for a message with the null reverse-path: a bounce, subject to the bounce lifetime.
    public var isBounce: Bool { reversePath == nil }
}
