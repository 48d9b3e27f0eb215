// TLSConfiguration: what a server TLS context is built from (files, version floor, cipher choices).
// Plain values only, so the server can keep it in its configuration and rebuild a context on SIGHUP.

/// Settings for a server ``TLSContext``.
///
/// The defaults follow current practice: TLS 1.2 as the floor
/// ([RFC 8996](https://www.rfc-editor.org/rfc/rfc8996#section-1)), forward-secret AEAD ciphers only for TLS 1.2
/// ([RFC 7525](https://www.rfc-editor.org/rfc/rfc7525#section-4.2)), and OpenSSL's TLS 1.3 suites
/// ([RFC 8446](https://www.rfc-editor.org/rfc/rfc8446#appendix-B.4)).
public struct TLSConfiguration: Hashable, Sendable {
    /// The default TLS 1.2 cipher list: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 (no finite-field
    /// DHE: every TLS 1.2 client of the last decade has ECDHE, and DHE is the slower, weaker-parameter choice).
    public static let defaultCipherList = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// The default TLS 1.3 cipher suites.
    public static let defaultCipherSuites = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

    /// Path of the PEM certificate chain: the server's certificate first, then any intermediates.
    public var certificateChainPath: String
    /// Path of the PEM private key (unencrypted; PKCS#8 or traditional format).
    public var privateKeyPath: String
    /// The oldest version the server accepts: ``TLSProtocolVersion/tls12`` (default) or
    /// ``TLSProtocolVersion/tls13``.
    public var minimumVersion: TLSProtocolVersion
    /// The TLS 1.2 cipher list, in OpenSSL's `ciphers(1)` syntax.
    public var cipherList: String
    /// The TLS 1.3 cipher suites, colon separated.
    public var cipherSuites: String

    /// Settings for a server using the certificate chain and key at these paths, with modern defaults for the rest.
    public init(
        certificateChainPath: String,
        privateKeyPath: String,
        minimumVersion: TLSProtocolVersion = .tls12,
        cipherList: String = TLSConfiguration.defaultCipherList,
        cipherSuites: String = TLSConfiguration.defaultCipherSuites
    ) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.minimumVersion = minimumVersion
        self.cipherList = cipherList
        self.cipherSuites = cipherSuites
    }
}
