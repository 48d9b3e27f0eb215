// DSNEnvelope: the envelope of the message being reported on — mirrors PostOfficeQueue's QueueEnvelope
// field for field (this module cannot import the queue), plus the double-bounce mark.

import PostOfficeCore

/// The SMTP envelope of the message a report is about.
public struct DSNEnvelope: Hashable, Sendable {
    /// The reverse-path: where reports go. nil is the null reverse-path `<>`: the message is itself a
    /// report, and is never reported back to its (absent) sender.
    public var reversePath: MailAddress?
    /// When the message was accepted: the report's `Arrival-Date`, and the start of the delay clock.
    public var arrival: MailTime
    /// The recipients, in envelope order; outcomes and plans refer to them by index.
    public var recipients: [DSNRecipient]
    /// The message size in bytes: decides whether a failure report without RET= returns the full message.
    public var messageSize: Int
    /// The `ENVID=` parameter as sent, xtext
    /// ([RFC 3461 §4.4](https://www.rfc-editor.org/rfc/rfc3461#section-4.4)).
    public var envelopeID: String?
    /// The `RET=` parameter as sent (`FULL` or `HDRS`)
    /// ([RFC 3461 §4.3](https://www.rfc-editor.org/rfc/rfc3461#section-4.3)).
    public var returnContent: String?
    /// True for a double bounce this server made (a report to the postmaster about an undeliverable
    /// report): if it fails too, it is dropped. The caller keeps this mark with the queued message.
    public var isDoubleBounce: Bool

    public init(
        reversePath: MailAddress?, arrival: MailTime, recipients: [DSNRecipient], messageSize: Int = 0,
        envelopeID: String? = nil, returnContent: String? = nil, isDoubleBounce: Bool = false
    ) {
        self.reversePath = reversePath
        self.arrival = arrival
        self.recipients = recipients
        self.messageSize = messageSize
        self.envelopeID = envelopeID
        self.returnContent = returnContent
        self.isDoubleBounce = isDoubleBounce
    }

    /// True for a message with the null reverse-path `<>`: a report itself (RFC 3461 §6.2).
    public var isBounce: Bool { reversePath == nil }

    /// The parsed `RET=`; nil when absent or malformed.
    public var returnRequest: DSNReturnContent? { DSNReturnContent(parameter: returnContent) }
}
