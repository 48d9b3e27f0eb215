// DeliveryResult: what commit() reports — the transaction's overall outcome and one outcome per recipient,
// so an LMTP-style caller can answer per recipient and an SMTP caller answers once.

import PostOfficeCore

/// The result of committing a ``DeliveryTransaction``.
public struct DeliveryResult: Hashable, Sendable {
    /// One envelope recipient's outcome.
    public struct RecipientOutcome: Hashable, Sendable {
        /// The envelope recipient as given.
        public var recipient: MailAddress
        /// The mailboxes it resolved to.
        public var mailboxes: [DeliveryMailbox]
        /// `.delivered` with this recipient's file names, or the transaction's failure.
        public var outcome: DeliveryOutcome
    }

    /// `.delivered` with every stored file name, or the failure that kept every copy from being stored.
    public var overall: DeliveryOutcome
    public var recipients: [RecipientOutcome]
}
