// DSNRecipient: one envelope recipient as a report needs it — mirrors PostOfficeQueue's QueueRecipient
// (this module cannot import the queue), with ORCPT and NOTIFY kept exactly as the client sent them.

import PostOfficeCore

/// One recipient of the message being reported on.
public struct DSNRecipient: Hashable, Sendable {
    /// The forward-path, as it is now (after any rewriting): the report's `Final-Recipient`.
    public var address: MailAddress
    /// The `ORCPT=` parameter as sent, `addr-type;xtext` (`rfc822;a+2Bb@example.org`)
    /// ([RFC 3461 §4.2](https://www.rfc-editor.org/rfc/rfc3461#section-4.2)); the report shows it decoded.
    public var originalRecipient: String?
    /// The `NOTIFY=` parameter as sent ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1)).
    public var notify: String?

    public init(_ address: MailAddress, originalRecipient: String? = nil, notify: String? = nil) {
        self.address = address
        self.originalRecipient = originalRecipient
        self.notify = notify
    }

    /// The parsed NOTIFY set (absent means FAILURE,DELAY).
    public var notifications: DSNNotify { DSNNotify(parameter: notify) }
}
