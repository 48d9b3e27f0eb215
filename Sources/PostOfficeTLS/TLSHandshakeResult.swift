// TLSHandshakeResult: where a session's handshake stands after feeding it the bytes received so far.

/// The outcome of one ``TLSSession/handshake()`` step.
public enum TLSHandshakeResult: Hashable, Sendable {
    /// More bytes from the peer are needed; send ``TLSSession/takeNetworkOutput()`` first.
    case incomplete
    /// The handshake finished ([RFC 8446 §4.4.4](https://www.rfc-editor.org/rfc/rfc8446#section-4.4.4));
    /// application data may flow. Call ``TLSSession/readPlaintext(into:)`` straight away: application data that
    /// arrived together with the peer's last handshake flight is already buffered.
    case complete
    /// The handshake failed for good. ``TLSSession/takeNetworkOutput()`` may still hold an alert to send
    /// before closing the connection.
    case failed(TLSError)
}
