// TLSSession: one TLS connection as a sans-I/O state machine over two OpenSSL memory BIOs.
// The connection feeds received ciphertext in, drives the handshake, reads and writes plaintext, and sends
// whatever ciphertext the session produced. It never touches a socket, a clock or a thread.

internal import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

/// One TLS connection, without I/O: ciphertext goes in with ``receiveFromNetwork(_:)`` and comes out with
/// ``takeNetworkOutput()``; plaintext goes through ``readPlaintext(into:)`` and ``writePlaintext(_:)``.
///
/// A session is not `Sendable`: confine it to its connection's queue. Sessions sharing one ``TLSContext`` may
/// run on different threads at once.
///
/// A server connection typically loops:
/// 1. on readable socket: ``receiveFromNetwork(_:)``; if not yet established, ``handshake()``;
///    then ``readPlaintext(into:)`` until ``TLSReadResult/wantMore``;
/// 2. after every step: send ``takeNetworkOutput()`` (handshake records, alerts and encrypted data all land there).
///
/// For STARTTLS ([RFC 3207 §4](https://www.rfc-editor.org/rfc/rfc3207#section-4),
/// [RFC 2595 §4](https://www.rfc-editor.org/rfc/rfc2595#section-4)) the caller must discard any plaintext it
/// buffered before the handshake, and feed only bytes received after the STARTTLS reply.
public final class TLSSession {
    /// Same as ``TLSReadResult``.
    public typealias ReadResult = TLSReadResult

    private enum State {
        case handshaking
        case established
        case shutDown
        case failed(TLSError)
    }

    /// The largest plaintext one TLS record carries
    /// ([RFC 8446 §5.1](https://www.rfc-editor.org/rfc/rfc8446#section-5.1)): one read returns at most this.
    public static let maximumRecordPlaintext = 16_384

    /// The context this session was built from, kept alive for as long as the session.
    public let context: TLSContext
    private let ssl: OpaquePointer
    /// Ciphertext from the peer; OpenSSL reads from it.
    private let networkInput: OpaquePointer
    /// Ciphertext for the peer; OpenSSL writes to it.
    private let networkOutput: OpaquePointer
    private var state: State = .handshaking
    private var peerClosed = false
    /// Set once the handshake completes, so negotiated parameters stay readable for logs after a later failure.
    private var handshakeCompleted = false

    /// Starts a session playing the context's ``TLSContext/role``.
    ///
    /// A client session (from ``TLSContext/init(client:)``) sends a ClientHello on its first ``handshake()``
    /// call: call it once right after connecting and send ``takeNetworkOutput()``, then drive it like a server.
    ///
    /// - Parameter serverName: For a client session, the host name to send in the server_name extension
    ///   ([RFC 6066 §3](https://www.rfc-editor.org/rfc/rfc6066#section-3); not sent for an IP address
    ///   literal) and to match against the server's certificate
    ///   ([RFC 6125 §6](https://www.rfc-editor.org/rfc/rfc6125#section-6)): a mismatch fails the handshake
    ///   when the context verifies peers, and is reported by ``certificateVerificationFailure`` either way.
    ///   Without it only the chain is checked. Ignored by server sessions.
    public init(context: TLSContext, serverName: String? = nil) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.handle) else {
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "SSL_new")
        }
        guard let input = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "BIO_new")
        }
        guard let output = BIO_new(BIO_s_mem()) else {
            BIO_free(input)
            SSL_free(ssl)
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "BIO_new")
        }
        // An empty input BIO means "wait for more", not end of stream: the socket's end is the caller's business.
        _ = COpenSSL_BIO_set_mem_eof_return(input, -1)
        _ = COpenSSL_BIO_set_mem_eof_return(output, -1)
        SSL_set_bio(ssl, input, output)  // The SSL now owns both BIOs.
        self.ssl = ssl
        self.context = context
        networkInput = input
        networkOutput = output
        switch context.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            // An MX name from DNS may be fully qualified ("mx.example."): RFC 6066 §3 sends it without the
            // trailing dot, and certificates never carry one.
            if let serverName = serverName.map({ $0.hasSuffix(".") ? String($0.dropLast()) : $0 }) {
                // RFC 6066 §3: server_name carries DNS names only, never an address literal.
                if !Self.isAddressLiteral(serverName),
                    COpenSSL_SSL_set_tlsext_host_name(ssl, serverName) != 1
                {
                    let error = OpenSSLErrorQueue.error(.invalidConfiguration, operation: "SSL_set_tlsext_host_name")
                    SSL_free(ssl)
                    throw error
                }
                // Set even when not verifying: OpenSSL then still checks the name and records the result,
                // which `certificateVerificationFailure` reports.
                if SSL_set1_host(ssl, serverName) != 1 {
                    let error = OpenSSLErrorQueue.error(.invalidConfiguration, operation: "SSL_set1_host")
                    SSL_free(ssl)
                    throw error
                }
            }
            SSL_set_connect_state(ssl)
        }
        OpenSSLErrorQueue.clear()
    }

    deinit {
        SSL_free(ssl)
    }

    // MARK: Ciphertext

    /// Appends ciphertext received from the peer. Nothing is decrypted until ``handshake()`` or
    /// ``readPlaintext(into:)`` runs. Bytes arriving after a failure or shutdown are dropped.
    public func receiveFromNetwork(_ bytes: some Collection<UInt8>) {
        switch state {
        case .failed, .shutDown: return
        case .handshaking, .established: break
        }
        if bytes.isEmpty { return }
        let appended: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            appendNetworkInput(UnsafeRawBufferPointer(buffer))
        }
        if appended == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { appendNetworkInput($0) }
        }
    }

    private func appendNetworkInput(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        OpenSSLErrorQueue.clear()
        var offset = 0
        while offset < buffer.count {
            let chunk = Int32(clamping: buffer.count - offset)
            let written = BIO_write(networkInput, base + offset, chunk)
            guard written > 0 else {
                // A memory BIO only fails when allocation does; the session cannot continue.
                state = .failed(OpenSSLErrorQueue.error(.resourceExhausted, operation: "BIO_write"))
                return
            }
            offset += Int(written)
        }
    }

    /// Removes and returns all ciphertext waiting to be sent: handshake records, alerts, encrypted data and
    /// close_notify. Empty when there is nothing to send.
    public func takeNetworkOutput() -> [UInt8] {
        let pending = COpenSSL_BIO_pending(networkOutput)
        guard pending > 0 else { return [] }
        OpenSSLErrorQueue.clear()
        let bytes = [UInt8](unsafeUninitializedCapacity: pending) { buffer, initialized in
            let read = BIO_read(networkOutput, buffer.baseAddress, Int32(clamping: pending))
            initialized = max(0, Int(read))
        }
        OpenSSLErrorQueue.clear()
        return bytes
    }

    /// True when ``takeNetworkOutput()`` would return bytes.
    public var hasNetworkOutput: Bool {
        COpenSSL_BIO_pending(networkOutput) > 0
    }

    // MARK: Handshake

    /// Advances the handshake with the ciphertext received so far. Idempotent once complete or failed.
    public func handshake() -> TLSHandshakeResult {
        switch state {
        case .established: return .complete
        case .failed(let error): return .failed(error)
        case .shutDown: return .failed(TLSError(.closed, operation: "SSL_do_handshake"))
        case .handshaking: break
        }
        OpenSSLErrorQueue.clear()
        let status = SSL_do_handshake(ssl)
        if status == 1 {
            state = .established
            handshakeCompleted = true
            OpenSSLErrorQueue.clear()
            return .complete
        }
        let reason = SSL_get_error(ssl, status)
        if reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE {
            OpenSSLErrorQueue.clear()
            return .incomplete
        }
        var error = failure(.handshake, operation: "SSL_do_handshake", reason: reason)
        if context.role == .client && context.verifiesPeer {
            // The queue only says "certificate verify failed"; the verify result says why.
            error.certificateVerification = certificateVerificationFailure
        }
        state = .failed(error)
        return .failed(error)
    }

    /// True once the handshake has completed and until the session fails or shuts down.
    public var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    // MARK: Plaintext

    /// Decrypts the next record's worth of application data (at most ``maximumRecordPlaintext`` bytes) and
    /// appends it to `buffer`. Call until it returns ``TLSReadResult/wantMore``. Before the handshake completes
    /// it advances the handshake and returns ``TLSReadResult/wantMore`` while that is incomplete.
    ///
    /// - Throws: ``TLSError`` when the handshake failed, a record is corrupt, or the session was shut down.
    public func readPlaintext(into buffer: inout [UInt8]) throws(TLSError) -> TLSReadResult {
        switch state {
        case .failed(let error): throw error
        case .shutDown: return .closed
        case .handshaking:
            switch handshake() {
            case .incomplete: return .wantMore
            case .failed(let error): throw error
            case .complete: break
            }
        case .established: break
        }
        if peerClosed { return .closed }
        OpenSSLErrorQueue.clear()
        var count = 0
        var status: Int32 = 0
        let capacity = Self.maximumRecordPlaintext
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { scratch in
            status = SSL_read_ex(ssl, scratch.baseAddress, capacity, &count)
            if status == 1 {
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[..<count]))
            }
        }
        if status == 1 {
            OpenSSLErrorQueue.clear()
            return .bytes(count)
        }
        let reason = SSL_get_error(ssl, status)
        switch reason {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            // WANT_WRITE cannot block on a memory BIO; any post-handshake message it wrote is in the output.
            OpenSSLErrorQueue.clear()
            return .wantMore
        case SSL_ERROR_ZERO_RETURN:
            OpenSSLErrorQueue.clear()
            peerClosed = true
            return .closed
        default:
            let error = failure(.protocolViolation, operation: "SSL_read_ex", reason: reason)
            state = .failed(error)
            throw error
        }
    }

    /// Encrypts `bytes` as application data into the network output.
    ///
    /// - Throws: ``TLSError`` of kind ``TLSError/Kind/handshakeIncomplete`` before the handshake completes,
    ///   ``TLSError/Kind/closed`` after ``shutdown()``, or the failure that ended the session.
    public func writePlaintext(_ bytes: [UInt8]) throws(TLSError) {
        switch state {
        case .failed(let error): throw error
        case .shutDown: throw TLSError(.closed, operation: "SSL_write_ex")
        case .handshaking: throw TLSError(.handshakeIncomplete, operation: "SSL_write_ex")
        case .established: break
        }
        if bytes.isEmpty { return }
        OpenSSLErrorQueue.clear()
        var offset = 0
        var failureReason: Int32 = 0
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while offset < raw.count {
                var written = 0
                let status = SSL_write_ex(ssl, base + offset, raw.count - offset, &written)
                guard status == 1 else {
                    failureReason = SSL_get_error(ssl, status)
                    return
                }
                offset += written
            }
        }
        if offset == bytes.count {
            OpenSSLErrorQueue.clear()
            return
        }
        let kind: TLSError.Kind = failureReason == SSL_ERROR_ZERO_RETURN ? .closed : .protocolViolation
        let error = failure(kind, operation: "SSL_write_ex", reason: failureReason)
        state = .failed(error)
        throw error
    }

    /// Queues close_notify ([RFC 8446 §6.1](https://www.rfc-editor.org/rfc/rfc8446#section-6.1)) for the peer;
    /// send ``takeNetworkOutput()`` before closing the socket. Afterwards nothing more can be written.
    /// Before the handshake completes it only marks the session closed.
    public func shutdown() {
        switch state {
        case .established:
            OpenSSLErrorQueue.clear()
            _ = SSL_shutdown(ssl)
            OpenSSLErrorQueue.clear()
            state = .shutDown
        case .handshaking:
            state = .shutDown
        case .shutDown, .failed:
            return
        }
    }

    /// True once the peer sent close_notify.
    public var isClosedByPeer: Bool { peerClosed }

    // MARK: Negotiated parameters

    /// The negotiated protocol, such as `TLSv1.3`; `nil` until the handshake completes (and still set after a
    /// later shutdown or failure, for the log).
    public var protocolVersion: String? {
        guard handshakeCompleted, let name = SSL_get_version(ssl) else { return nil }
        return String(cString: name)
    }

    /// The negotiated cipher in OpenSSL's naming, such as `TLS_AES_256_GCM_SHA384` or
    /// `ECDHE-RSA-AES128-GCM-SHA256`; `nil` until the handshake completes.
    public var cipherName: String? {
        guard handshakeCompleted, let cipher = SSL_get_current_cipher(ssl),
            let name = SSL_CIPHER_get_name(cipher)
        else { return nil }
        return String(cString: name)
    }

    /// The negotiated cipher's symmetric key strength in bits, such as 256; `nil` until the handshake completes.
    public var cipherBits: Int? {
        guard handshakeCompleted, let cipher = SSL_get_current_cipher(ssl) else { return nil }
        return Int(SSL_CIPHER_get_bits(cipher, nil))
    }

    /// The host name the client asked for in server_name
    /// ([RFC 6066 §3](https://www.rfc-editor.org/rfc/rfc6066#section-3)), if any.
    public var requestedServerName: String? {
        guard let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)) else { return nil }
        return String(cString: name)
    }

    /// For a client: why the server's certificate chain or host name did not verify, or `nil` when it did.
    ///
    /// Read it after the handshake completes or fails; before the server's certificate has arrived it is
    /// `nil`. With ``TLSClientConfiguration/verifiesPeer`` off the handshake succeeds regardless, and this
    /// tells what a verifying client would have refused (for a log line or a `Received:` header comment).
    public var certificateVerificationFailure: TLSCertificateVerificationFailure? {
        // The result stays X509_V_OK until the server's certificate is checked. (OpenSSL keeps no peer
        // certificate after a refused one, so the result is the only trace of why.)
        guard context.role == .client else { return nil }
        return TLSCertificateVerificationFailure(verifyResult: SSL_get_verify_result(ssl))
    }

    /// True for an IPv4 or IPv6 address literal (with or without brackets), which SNI must not carry.
    private static func isAddressLiteral(_ name: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        let bare = name.hasPrefix("[") && name.hasSuffix("]") ? String(name.dropFirst().dropLast()) : name
        return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, bare, &v6) == 1
    }

    /// Drains the error queue into a ``TLSError``, naming the `SSL_get_error` class when OpenSSL queued nothing.
    private func failure(_ kind: TLSError.Kind, operation: String, reason: Int32) -> TLSError {
        var error = OpenSSLErrorQueue.error(kind, operation: operation)
        if error.messages.isEmpty {
            error.messages = [Self.reasonName(reason)]
        }
        return error
    }

    private static func reasonName(_ reason: Int32) -> String {
        switch reason {
        case SSL_ERROR_SSL: "SSL_ERROR_SSL"
        case SSL_ERROR_SYSCALL: "SSL_ERROR_SYSCALL"
        case SSL_ERROR_ZERO_RETURN: "SSL_ERROR_ZERO_RETURN (peer closed)"
        default: "SSL_get_error \(reason)"
        }
    }
}
