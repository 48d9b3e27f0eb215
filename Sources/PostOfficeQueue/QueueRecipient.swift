// QueueRecipient: one envelope recipient as the queue keeps it — the address plus the DSN parameters
// (RFC 3461) that the bounce generator will need, stored verbatim as the client sent them.

import PostOfficeCore

/// One recipient of a queued message.
public struct QueueRecipient: Hashable, Sendable {
    /// The forward-path ([RFC 5321 §4.1.1.3](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.3)).
    public var address: MailAddress
    /// The `ORCPT=` parameter, as sent (`rfc822;user@example.org`, xtext decoded or not — the caller's
    /// choice, kept as given) ([RFC 3461 §4.2](https://www.rfc-editor.org/rfc/rfc3461#section-4.2)).
    public var originalRecipient: String?
    /// The `NOTIFY=` parameter, as sent (`SUCCESS,FAILURE`, `NEVER`)
    /// ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1)).
    public var notify: String?
    /// Already delivered into a local Maildir when the message was received: queued only so that its
    /// `NOTIFY=SUCCESS` report is made ([RFC 3461 §6.2.2](https://www.rfc-editor.org/rfc/rfc3461#section-6.2.2));
    /// never delivered again.
    public var isDeliveredLocally: Bool

    public init(_ address: MailAddress, originalRecipient: String? = nil, notify: String? = nil, isDeliveredLocally: Bool = false) {
        self.address = address
        self.originalRecipient = originalRecipient
        self.notify = notify
        self.isDeliveredLocally = isDeliveredLocally
    }
}
