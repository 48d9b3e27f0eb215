// TLSCertificateVerificationFailure: why a server's certificate did not verify, from OpenSSL's X509_V_ERR_*
// result. Typed, so an opportunistic SMTP client can tell "wrong name" from "unknown CA" without parsing text.

internal import COpenSSL

/// Why a peer's certificate failed verification: the chain ([RFC 5280 §6](https://www.rfc-editor.org/rfc/rfc5280#section-6))
/// or the host name ([RFC 6125 §6](https://www.rfc-editor.org/rfc/rfc6125#section-6)).
///
/// Its ``description`` reads like OpenSSL's own, for example `certificate verify failed: hostname mismatch`.
public struct TLSCertificateVerificationFailure: Hashable, Sendable, CustomStringConvertible {
    /// The broad class, for deciding whether to fall back, defer or bounce.
    public enum Reason: Hashable, Sendable {
        /// The certificate is valid but does not name the host the client asked for.
        case hostnameMismatch
        /// The chain does not lead to a trust anchor: self-signed, unknown or missing issuer.
        case untrusted
        /// A certificate in the chain has expired.
        case expired
        /// A certificate in the chain is not valid yet.
        case notYetValid
        /// Anything else OpenSSL reports (bad signature, wrong purpose, revoked...); see ``code``.
        case other
    }

    /// The broad class.
    public var reason: Reason
    /// OpenSSL's `X509_V_ERR_*` value, as `SSL_get_verify_result` returned it.
    public var code: Int
    /// OpenSSL's text for ``code`` (`X509_verify_cert_error_string`), such as `hostname mismatch`.
    public var message: String

    /// Makes a failure by hand; sessions build theirs from OpenSSL's verify result.
    public init(reason: Reason, code: Int, message: String) {
        self.reason = reason
        self.code = code
        self.message = message
    }

    /// Classifies OpenSSL's verify result; nil for `X509_V_OK`.
    init?(verifyResult code: Int) {
        guard code != Int(X509_V_OK) else { return nil }
        let reason: Reason =
            switch Int32(truncatingIfNeeded: code) {
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH: .hostnameMismatch
            case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
                .untrusted
            case X509_V_ERR_CERT_HAS_EXPIRED: .expired
            case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
            default: .other
            }
        let text = X509_verify_cert_error_string(code).map { String(cString: $0) } ?? "X509 error \(code)"
        self.init(reason: reason, code: code, message: text)
    }

    /// `certificate verify failed: ` followed by OpenSSL's text.
    public var description: String { "certificate verify failed: \(message)" }
}
