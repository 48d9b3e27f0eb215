// TLSContext: an OpenSSL SSL_CTX configured once (certificate, key, versions, ciphers) and shared read-only by
// every TLSSession on every queue. Server contexts come from a TLSConfiguration, client ones from a
// TLSClientConfiguration. Building one is self-contained, so the server can build a fresh one on SIGHUP
// and swap it in; sessions keep the context they started with alive.

internal import COpenSSL

/// A configured TLS endpoint shared by many sessions: for a server, its certificate, key, versions and ciphers;
/// for a client (``init(client:)``), its trust anchors and whether it verifies the server.
///
/// A context is immutable once built. OpenSSL 3 allows separate sessions sharing one context to run on
/// different threads at once, which is why this type is `Sendable`. To reload certificates, build a new context
/// (``reloaded()``) and hand it to new sessions; sessions already running keep the old one alive until they end.
public final class TLSContext: @unchecked Sendable {
    /// Which side of the handshake sessions built from this context play.
    public enum Role: Hashable, Sendable {
        /// Sessions wait for a ClientHello ([RFC 8446 §4.1.2](https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2)).
        case server
        /// Sessions send a ClientHello ([RFC 8446 §4.1.2](https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2)):
        /// outbound connections, tests and interoperability checks.
        case client
    }

    /// Which side of the handshake sessions play.
    public let role: Role
    /// The settings a server context was built from; `nil` for a client context.
    public let configuration: TLSConfiguration?
    /// The settings a client context was built from; `nil` for a server context.
    public let clientConfiguration: TLSClientConfiguration?
    /// Whether a client context verifies the server's certificate chain and host name.
    public let verifiesPeer: Bool

    /// The `SSL_CTX *`, owned; immutable after `init`, so safe to share.
    let handle: OpaquePointer

    /// Builds a server context: loads the certificate chain and key, checks that they match, and applies the
    /// version floor and cipher choices. Compression and renegotiation are disabled
    /// ([RFC 7457 §2.6](https://www.rfc-editor.org/rfc/rfc7457#section-2.6)).
    ///
    /// - Throws: ``TLSError`` of kind ``TLSError/Kind/certificate``, ``TLSError/Kind/privateKey``,
    ///   ``TLSError/Kind/keyMismatch`` or ``TLSError/Kind/invalidConfiguration``.
    public init(configuration: TLSConfiguration) throws(TLSError) {
        guard configuration.minimumVersion >= .tls12 else {
            throw TLSError(
                .invalidConfiguration, operation: "TLSContext.init",
                messages: ["minimum version \(configuration.minimumVersion) is below TLSv1.2"]
            )
        }
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "SSL_CTX_new")
        }
        do throws(TLSError) {
            try Self.applyCommonSettings(context, minimumVersion: configuration.minimumVersion)
            try Self.applyCiphers(context, list: configuration.cipherList, suites: configuration.cipherSuites)
            try Self.loadIdentity(
                context, certificateChainPath: configuration.certificateChainPath,
                privateKeyPath: configuration.privateKeyPath
            )
            // Auto-sized DH parameters for the DHE suites; ECDHE groups need no setup in OpenSSL 3.
            _ = COpenSSL_SSL_CTX_set_dh_auto(context, 1)
            let sessionContext = Array("PostOffice".utf8)
            _ = SSL_CTX_set_session_id_context(context, sessionContext, UInt32(sessionContext.count))
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        OpenSSLErrorQueue.clear()
        handle = context
        role = .server
        self.configuration = configuration
        clientConfiguration = nil
        verifiesPeer = false
    }

    /// Builds a client context for outbound connections (an SMTP client, a delivery queue): TLS 1.2 or newer,
    /// trust anchors from ``TLSClientConfiguration/trustedCertificatesPath`` or the system store, and the
    /// server's chain and host name verified ([RFC 6125 §6](https://www.rfc-editor.org/rfc/rfc6125#section-6))
    /// unless ``TLSClientConfiguration/verifiesPeer`` is off. Give each ``TLSSession`` the server's name.
    ///
    /// - Throws: ``TLSError`` of kind ``TLSError/Kind/invalidConfiguration`` for a version below TLS 1.2 or an
    ///   inverted range, or ``TLSError/Kind/certificate`` when the trust anchors cannot be loaded.
    public convenience init(client configuration: TLSClientConfiguration) throws(TLSError) {
        guard configuration.minimumVersion >= .tls12 else {
            throw TLSError(
                .invalidConfiguration, operation: "TLSContext.init(client:)",
                messages: ["minimum version \(configuration.minimumVersion) is below TLSv1.2"]
            )
        }
        // Load trust anchors even when not verifying, so the session can still report the verify result.
        let handle = try Self.buildClient(configuration, alwaysLoadsTrust: true)
        self.init(clientHandle: handle, configuration: configuration)
    }

    private init(clientHandle: OpaquePointer, configuration: TLSClientConfiguration) {
        handle = clientHandle
        role = .client
        self.configuration = nil
        clientConfiguration = configuration
        verifiesPeer = configuration.verifiesPeer
    }

    deinit {
        SSL_CTX_free(handle)
    }

    /// Builds a new server context from the same configuration, re-reading the certificate and key files.
    public func reloaded() throws(TLSError) -> TLSContext {
        guard let configuration else {
            throw TLSError(.invalidConfiguration, operation: "TLSContext.reloaded", messages: ["not a server context"])
        }
        return try TLSContext(configuration: configuration)
    }

    /// Builds a client context for tests and interoperability checks: unlike ``init(client:)`` it can offer
    /// TLS 1.0 and 1.1, to check that a server refuses them. Outbound connections use ``init(client:)``.
    ///
    /// - Parameters:
    ///   - verifyingPeer: Verify the server's chain against `trustedCertificatesPath` (or the system's trust
    ///     store when `nil`) and its host name against the session's server name.
    ///   - minimumVersion: The oldest version offered. Below TLS 1.2 the context also drops OpenSSL's security
    ///     level to 0, since OpenSSL 3 otherwise refuses to offer TLS 1.0 and 1.1 at all.
    ///   - maximumVersion: The newest version offered; `nil` for the newest OpenSSL supports.
    ///   - trustedCertificatesPath: A PEM file of trust anchors, such as a self-signed server certificate.
    public static func makeClient(
        verifyingPeer: Bool = true,
        minimumVersion: TLSProtocolVersion = .tls12,
        maximumVersion: TLSProtocolVersion? = nil,
        trustedCertificatesPath: String? = nil
    ) throws(TLSError) -> TLSContext {
        let configuration = TLSClientConfiguration(
            trustedCertificatesPath: trustedCertificatesPath, verifiesPeer: verifyingPeer,
            minimumVersion: minimumVersion, maximumVersion: maximumVersion
        )
        // A non-verifying test client skips the system store: nothing reads its verify result.
        let handle = try buildClient(configuration, alwaysLoadsTrust: trustedCertificatesPath != nil)
        return TLSContext(clientHandle: handle, configuration: configuration)
    }

    /// Makes the `SSL_CTX` for a client. `alwaysLoadsTrust` loads trust anchors even when not verifying; a
    /// failure to load them then is ignored, since verification is only reported, never enforced.
    private static func buildClient(
        _ configuration: TLSClientConfiguration, alwaysLoadsTrust: Bool
    ) throws(TLSError) -> OpaquePointer {
        let minimumVersion = configuration.minimumVersion
        if let maximumVersion = configuration.maximumVersion, maximumVersion < minimumVersion {
            throw TLSError(
                .invalidConfiguration, operation: "TLSContext.makeClient",
                messages: ["maximum version \(maximumVersion) is below minimum version \(minimumVersion)"]
            )
        }
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "SSL_CTX_new")
        }
        do throws(TLSError) {
            try applyCommonSettings(context, minimumVersion: minimumVersion)
            if let maximumVersion = configuration.maximumVersion,
                COpenSSL_SSL_CTX_set_max_proto_version(context, maximumVersion.openSSLValue) != 1
            {
                throw OpenSSLErrorQueue.error(.invalidConfiguration, operation: "SSL_CTX_set_max_proto_version")
            }
            if minimumVersion < .tls12 {
                // OpenSSL 3 needs security level 0 before it signs handshakes with SHA-1/MD5 as TLS 1.0/1.1 do.
                SSL_CTX_set_security_level(context, 0)
                try applyCiphers(context, list: "DEFAULT:@SECLEVEL=0", suites: TLSConfiguration.defaultCipherSuites)
            }
            if configuration.verifiesPeer || alwaysLoadsTrust {
                let loaded =
                    if let path = configuration.trustedCertificatesPath {
                        SSL_CTX_load_verify_locations(context, path, nil)
                    } else {
                        SSL_CTX_set_default_verify_paths(context)
                    }
                if loaded != 1 && configuration.verifiesPeer {
                    throw OpenSSLErrorQueue.error(.certificate, operation: "SSL_CTX_load_verify_locations")
                }
            }
            // With SSL_VERIFY_NONE OpenSSL still checks the chain and name and keeps the result for
            // SSL_get_verify_result; it just does not fail the handshake.
            SSL_CTX_set_verify(context, configuration.verifiesPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        OpenSSLErrorQueue.clear()
        return context
    }

    /// Settings both roles share: version floor, no compression or renegotiation, and write modes that suit
    /// memory BIOs fed from a connection's own buffers.
    private static func applyCommonSettings(
        _ context: OpaquePointer, minimumVersion: TLSProtocolVersion
    ) throws(TLSError) {
        guard COpenSSL_SSL_CTX_set_min_proto_version(context, minimumVersion.openSSLValue) == 1 else {
            throw OpenSSLErrorQueue.error(.invalidConfiguration, operation: "SSL_CTX_set_min_proto_version")
        }
        _ = SSL_CTX_set_options(context, COpenSSL_SSL_OP_NO_COMPRESSION() | COpenSSL_SSL_OP_NO_RENEGOTIATION())
        _ = COpenSSL_SSL_CTX_set_mode(
            context,
            COpenSSL_SSL_MODE_ENABLE_PARTIAL_WRITE() | COpenSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER()
                | COpenSSL_SSL_MODE_RELEASE_BUFFERS()
        )
    }

    private static func applyCiphers(_ context: OpaquePointer, list: String, suites: String) throws(TLSError) {
        guard SSL_CTX_set_cipher_list(context, list) == 1 else {
            throw OpenSSLErrorQueue.error(.invalidConfiguration, operation: "SSL_CTX_set_cipher_list")
        }
        guard SSL_CTX_set_ciphersuites(context, suites) == 1 else {
            throw OpenSSLErrorQueue.error(.invalidConfiguration, operation: "SSL_CTX_set_ciphersuites")
        }
    }

    /// Loads the chain, then the key by hand (so an encrypted key fails instead of prompting on a terminal),
    /// and checks that the key belongs to the leaf certificate.
    private static func loadIdentity(
        _ context: OpaquePointer, certificateChainPath: String, privateKeyPath: String
    ) throws(TLSError) {
        guard SSL_CTX_use_certificate_chain_file(context, certificateChainPath) == 1 else {
            throw OpenSSLErrorQueue.error(.certificate, operation: "SSL_CTX_use_certificate_chain_file")
        }
        guard let file = BIO_new_file(privateKeyPath, "r") else {
            throw OpenSSLErrorQueue.error(.privateKey, operation: "BIO_new_file")
        }
        defer { BIO_free(file) }
        guard let key = COpenSSL_read_private_key(file) else {
            throw OpenSSLErrorQueue.error(.privateKey, operation: "PEM_read_bio_PrivateKey")
        }
        defer { EVP_PKEY_free(key) }
        guard let leaf = SSL_CTX_get0_certificate(context), X509_check_private_key(leaf, key) == 1 else {
            throw OpenSSLErrorQueue.error(.keyMismatch, operation: "X509_check_private_key")
        }
        guard SSL_CTX_use_PrivateKey(context, key) == 1 else {
            throw OpenSSLErrorQueue.error(.privateKey, operation: "SSL_CTX_use_PrivateKey")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw OpenSSLErrorQueue.error(.keyMismatch, operation: "SSL_CTX_check_private_key")
        }
    }
}
