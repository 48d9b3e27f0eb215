// SMTPDisposition: what the queue does with a message or recipient after a client session, the output of
// the error-class table (SMTPErrorClassification).

/// The fate of a recipient, a message or a session.
public enum SMTPDisposition: String, Hashable, Sendable {
    /// The server took responsibility (2xx after the content).
    case delivered
    /// Temporary failure: keep it queued and retry later.
    case deferred
    /// Permanent failure: bounce (DSN with the result's reply and enhanced code).
    case failed
    /// This host failed in a way another MX may not: try the next one now.
    case tryNextHost
}
