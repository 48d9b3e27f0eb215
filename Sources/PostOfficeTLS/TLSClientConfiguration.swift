// TLSClientConfiguration: what a client TLS context is built from (trust anchors, whether to verify, versions).
// Plain values, so an outbound queue can keep one per policy (verified relay, opportunistic MX delivery) and
// build its context once.

/// Settings for a client ``TLSContext`` (``TLSContext/init(client:)``), as an SMTP client or delivery queue
/// uses them for STARTTLS ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)) or implicit TLS
/// ([RFC 8314 §3](https://www.rfc-editor.org/rfc/rfc8314#section-3)).
///
/// The cipher choice is left at OpenSSL's defaults: a client meets servers it does not control, and for
/// opportunistic delivery a weaker cipher still beats the plaintext fallback
/// ([RFC 7435 §1.3](https://www.rfc-editor.org/rfc/rfc7435#section-1.3)). The version floor stays at TLS 1.2
/// ([RFC 8996](https://www.rfc-editor.org/rfc/rfc8996#section-1)).
public struct TLSClientConfiguration: Hashable, Sendable {
    /// A PEM file of trust anchors (a private CA, or a server's self-signed certificate); `nil` uses the
    /// system's trust store (OpenSSL's default verify paths).
    public var trustedCertificatesPath: String?
    /// Whether the handshake fails when the server's chain or host name does not verify
    /// ([RFC 6125 §6](https://www.rfc-editor.org/rfc/rfc6125#section-6)). When `false` the session still
    /// checks both and reports the outcome in ``TLSSession/certificateVerificationFailure``, so an
    /// opportunistic client can log what a verifying one would have refused.
    public var verifiesPeer: Bool
    /// The oldest version offered: ``TLSProtocolVersion/tls12`` (default) or ``TLSProtocolVersion/tls13``.
    public var minimumVersion: TLSProtocolVersion
    /// The newest version offered; `nil` for the newest OpenSSL supports.
    public var maximumVersion: TLSProtocolVersion?

    /// Client settings: verify against `trustedCertificatesPath` (or the system store), TLS 1.2 and newer.
    public init(
        trustedCertificatesPath: String? = nil,
        verifiesPeer: Bool = true,
        minimumVersion: TLSProtocolVersion = .tls12,
        maximumVersion: TLSProtocolVersion? = nil
    ) {
        self.trustedCertificatesPath = trustedCertificatesPath
        self.verifiesPeer = verifiesPeer
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
    }
}
