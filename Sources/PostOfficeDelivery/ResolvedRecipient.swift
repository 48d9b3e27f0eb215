// ResolvedRecipient: an envelope recipient together with the mailboxes it resolved to at RCPT time,
// handed to beginTransaction so a directory reload mid-session cannot change an accepted recipient.

import PostOfficeCore

/// An envelope recipient and its mailboxes.
public struct ResolvedRecipient: Hashable, Sendable {
    public var address: MailAddress
    public var mailboxes: [DeliveryMailbox]

    public init(address: MailAddress, mailboxes: [DeliveryMailbox]) {
        self.address = address
        self.mailboxes = mailboxes
    }
}
