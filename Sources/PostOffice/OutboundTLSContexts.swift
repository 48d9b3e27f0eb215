// OutboundTLSContexts: the two client TLS contexts the SMTP client uses for STARTTLS — one that verifies the
// server's chain and host name (`verify`) and one that only reports what it would have refused (`may`,
// `encrypt`) — both trusting `smtp_tls_CAfile` when it is set, else the system store (that pair is built once).
// A CA file's pair is built at start and on every reload, so a renewed file applies without a restart; a file
// that cannot be read refuses either.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeTLS

struct OutboundTLSContexts: Sendable, Equatable {
    /// The `smtp_tls_CAfile` the contexts trust; nil for the system store.
    let caFile: String?
    /// Fails the handshake when the chain or the host name does not verify.
    let verifying: TLSContext?
    /// Encrypts whatever the certificate; the session still records what did not verify (for the log).
    let opportunistic: TLSContext?

    /// The system store, built once and shared (contexts are immutable): every plan and every reload without
    /// a CA file uses these. A store that cannot be loaded leaves `verifying` nil: `verify` then defers the mail.
    static let systemStore = OutboundTLSContexts(
        caFile: nil, verifying: try? TLSContext(client: TLSClientConfiguration()),
        opportunistic: try? TLSContext(client: TLSClientConfiguration(verifiesPeer: false)))

    private init(caFile: String?, verifying: TLSContext?, opportunistic: TLSContext?) {
        self.caFile = caFile
        self.verifying = verifying
        self.opportunistic = opportunistic
    }

    /// Trusts the certificates in `caFile` (PEM) instead of the system store; nil is ``systemStore``. Throws a
    /// ConfigurationError naming the file when it cannot be read or holds no certificate.
    init(caFile: String?) throws(ConfigurationError) {
        guard let caFile else {
            self = Self.systemStore
            return
        }
        // OpenSSL's own error for a missing file is vague; say which file and why first.
        guard let file = fopen(caFile, "r") else {
            throw ConfigurationError(
                file: caFile, line: 0,
                message: "smtp_tls_CAfile cannot be read (\(String(cString: strerror(errno)))): give a readable PEM file of CA certificates")
        }
        fclose(file)
        do throws(TLSError) {
            self.init(
                caFile: caFile,
                verifying: try TLSContext(client: TLSClientConfiguration(trustedCertificatesPath: caFile)),
                opportunistic: try TLSContext(client: TLSClientConfiguration(trustedCertificatesPath: caFile, verifiesPeer: false)))
        } catch {
            throw ConfigurationError(
                file: caFile, line: 0, message: "smtp_tls_CAfile holds no PEM certificate OpenSSL can load: \(error)")
        }
    }

    /// The same file and the same contexts (a reload builds new ones, which count as a change).
    static func == (left: Self, right: Self) -> Bool {
        left.caFile == right.caFile && left.verifying === right.verifying && left.opportunistic === right.opportunistic
    }
}
