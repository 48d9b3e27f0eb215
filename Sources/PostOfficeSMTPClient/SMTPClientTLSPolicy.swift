// SMTPClientTLSPolicy: how much the client insists on STARTTLS, named after Postfix's smtp_tls_security_level.
// The engine enforces the "required" part; certificate checks are the driver's, told by the startTLS action.

/// When the client uses STARTTLS ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)).
public enum SMTPClientTLSPolicy: String, Hashable, Sendable, CaseIterable {
    /// Never STARTTLS, even when offered (Postfix's `none`): for a peer whose TLS is known to be broken.
    case disabled = "none"
    /// Opportunistic: STARTTLS when offered, plain text otherwise, and plain text when STARTTLS is refused.
    case may
    /// TLS is required (without certificate verification): no STARTTLS offered is a temporary failure.
    case encrypt
    /// TLS is required and the driver verifies the server's certificate and name.
    case verify

    /// No STARTTLS (or a refused one) ends the session with "TLS required".
    public var requiresTLS: Bool { self == .encrypt || self == .verify }
}
