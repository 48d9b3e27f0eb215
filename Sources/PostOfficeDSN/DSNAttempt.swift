// DSNAttempt: what happened at the last delivery attempt for one recipient — status code, remote host,
// the remote server's reply and when. Everything a report's per-recipient fields are made from.

import PostOfficeCore

/// The last delivery attempt for one recipient.
public struct DSNAttempt: Hashable, Sendable {
    /// The RFC 3463 status: the report's `Status` ([RFC 3463](https://www.rfc-editor.org/rfc/rfc3463)).
    public var status: EnhancedStatusCode
    /// The host that answered (`mx.example.net`): `Remote-MTA: dns; ...`; nil for local delivery.
    public var remoteMTA: String?
    /// The server's reply as received (`550 5.1.1 <bob@example.net>: user unknown`; several lines may be
    /// separated by CRLF), or a local reason (`mailbox full`). Becomes `Diagnostic-Code`: type `smtp`
    /// when it starts with a reply code, `X-PostOffice` otherwise
    /// ([RFC 3464 §2.3.6](https://www.rfc-editor.org/rfc/rfc3464#section-2.3.6)).
    public var reply: String?
    /// When the attempt was made: `Last-Attempt-Date`.
    public var date: MailTime?

    public init(status: EnhancedStatusCode, remoteMTA: String? = nil, reply: String? = nil, date: MailTime? = nil) {
        self.status = status
        self.remoteMTA = remoteMTA
        self.reply = reply
        self.date = date
    }
}
