// SendmailQueueDraft: where `postoffice sendmail` puts recipients in other domains — a draft in the outbound
// queue that the runtime opens (this module knows no queue). The runtime writes the wire form (CRLF lines and
// our Received: header); sendmail streams the same bytes it gives the local Maildir transaction.

import PostOfficeCore

/// One message being written to the outbound queue for the remote recipients of a sendmail submission.
public protocol SendmailQueueDraft: AnyObject {
    /// Message bytes as read (LF or CRLF line ends; the draft stores CRLF).
    func append(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError)
    /// Makes the queued message durable (file and folder fsync'd).
    func commit() throws(DeliveryError)
    /// Gives up and removes what was written.
    func abort()
}

/// Opens a queue draft for `recipients` (all in other domains) from `sender`, with the trace facts of the
/// submission; throws when the queue cannot take it (4.3.x: try again later).
public typealias SendmailQueueOpener =
    @Sendable (_ sender: MailAddress?, _ recipients: [MailAddress], _ trace: TraceInfo, _ date: MailTime)
    throws(DeliveryError) -> any SendmailQueueDraft
