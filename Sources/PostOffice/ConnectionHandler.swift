// ConnectionHandler: what a protocol session (SMTP or POP3 driver) implements to be run by a Connection.
// All calls arrive on the connection's event loop thread, so a handler needs no locks of its own.

/// A protocol session driven by a ``Connection``. Every method is called on the connection's event loop.
protocol ConnectionHandler: AnyObject {
    /// The connection is ready; send the greeting.
    func connectionOpened(_ connection: Connection)
    /// Bytes arrived.
    func connection(_ connection: Connection, received bytes: [UInt8])
    /// Everything queued for sending has been written (for streaming large responses).
    func connectionDrained(_ connection: Connection)
    /// The idle timer fired.
    func connectionTimedOut(_ connection: Connection)
    /// The server is shutting down gracefully.
    func connectionShutdownRequested(_ connection: Connection)
    /// The STARTTLS/STLS handshake completed; the session must start afresh (RFC 3207 §4.2).
    func connectionSecured(_ connection: Connection)
    /// TLS failed (handshake error, stalled handshake, bad record); the connection is closing.
    func connectionTLSFailed(_ connection: Connection, reason: String)
    /// The connection is gone (either side closed); release resources. Called once.
    func connectionClosed(_ connection: Connection)
}
