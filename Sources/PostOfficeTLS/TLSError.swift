// TLSError: every failure of PostOfficeTLS, with the OpenSSL error queue drained into plain messages.
// Building one always empties the calling thread's queue, so one session's errors never show up in another's.

/// A TLS failure: what went wrong, which call reported it, and OpenSSL's own messages.
///
/// OpenSSL keeps a per-thread error queue. PostOfficeTLS clears it before each operation and drains it into
/// ``messages`` after a failure, so connection queues sharing a thread never see each other's errors.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The broad class of failure, for choosing a reply or a log level.
    public enum Kind: Hashable, Sendable {
        /// A setting was refused: a version below TLS 1.2 for a server, a cipher list OpenSSL rejects,
        /// or a host name that cannot go into a certificate.
        case invalidConfiguration
        /// The certificate chain file could not be read or parsed.
        case certificate
        /// The private key file could not be read or parsed (encrypted keys are refused, never prompted for).
        case privateKey
        /// The private key does not belong to the certificate.
        case keyMismatch
        /// The handshake failed: no common version or cipher, a malformed ClientHello, an alert from the peer.
        case handshake
        /// A record after the handshake was malformed or failed authentication.
        case protocolViolation
        /// Application data was written before the handshake completed.
        case handshakeIncomplete
        /// The session is closed (shut down locally, or the peer sent close_notify) and cannot carry data.
        case closed
        /// Generating a key or certificate failed.
        case keyGeneration
        /// A file could not be written; ``systemErrno`` says why.
        case fileSystem
        /// OpenSSL could not allocate an object.
        case resourceExhausted
    }

    /// The broad class of failure.
    public var kind: Kind
    /// The operation that failed, such as `SSL_do_handshake` or `SSL_CTX_use_certificate_chain_file`.
    public var operation: String
    /// OpenSSL's messages, oldest first, as `ERR_error_string_n` renders them
    /// (for example `error:0A000102:SSL routines::unsupported protocol`). May be empty.
    public var messages: [String]
    /// The `errno` for ``Kind/fileSystem`` failures.
    public var systemErrno: Int32?
    /// For a verifying client's ``Kind/handshake`` failure: why the server's certificate was refused.
    /// `nil` when the handshake failed for another reason.
    public var certificateVerification: TLSCertificateVerificationFailure?

    /// Makes an error by hand; PostOfficeTLS builds most of them from the OpenSSL error queue.
    public init(_ kind: Kind, operation: String, messages: [String] = [], systemErrno: Int32? = nil) {
        self.kind = kind
        self.operation = operation
        self.messages = messages
        self.systemErrno = systemErrno
    }

    /// One log line: kind, operation, errno if any, the certificate verification failure if any (such as
    /// `certificate verify failed: hostname mismatch`), then OpenSSL's messages.
    public var description: String {
        var text = "TLS \(kind) in \(operation)"
        if let systemErrno { text += " (errno \(systemErrno))" }
        let details = (certificateVerification.map { [$0.description] } ?? []) + messages
        if !details.isEmpty { text += ": " + details.joined(separator: "; ") }
        return text
    }
}
