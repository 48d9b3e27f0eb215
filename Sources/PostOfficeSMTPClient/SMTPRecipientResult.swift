// SMTPRecipientResult: the final result for one recipient of a transaction, reported when the transaction ends
// (a recipient accepted at RCPT can still fail after DATA).

import PostOfficeCore

/// The outcome for one forward-path of an ``SMTPOutboundMessage``.
public struct SMTPRecipientResult: Hashable, Sendable {
    /// The recipient, as in the message.
    public var recipient: SMTPOutboundMessage.Recipient
    /// Its classified outcome.
    public var result: SMTPDeliveryResult

    public init(recipient: SMTPOutboundMessage.Recipient, result: SMTPDeliveryResult) {
        self.recipient = recipient
        self.result = result
    }
}
