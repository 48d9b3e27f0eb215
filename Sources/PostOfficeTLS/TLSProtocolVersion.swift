// TLSProtocolVersion: the TLS versions PostOfficeTLS can name, for minimum and maximum settings.
// Servers accept TLS 1.2 and 1.3 only; the older two exist so tests can play a legacy client.

internal import COpenSSL

/// A version of TLS.
///
/// Servers built by ``TLSContext/init(configuration:)`` refuse anything below ``tls12``, as
/// [RFC 8996](https://www.rfc-editor.org/rfc/rfc8996#section-1) deprecates TLS 1.0 and 1.1; those cases exist
/// only for client contexts that test the refusal.
public enum TLSProtocolVersion: Int, Hashable, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// TLS 1.0 ([RFC 2246](https://www.rfc-editor.org/rfc/rfc2246)). Deprecated; test clients only.
    case tls10 = 10
    /// TLS 1.1 ([RFC 4346](https://www.rfc-editor.org/rfc/rfc4346)). Deprecated; test clients only.
    case tls11 = 11
    /// TLS 1.2 ([RFC 5246](https://www.rfc-editor.org/rfc/rfc5246)).
    case tls12 = 12
    /// TLS 1.3 ([RFC 8446](https://www.rfc-editor.org/rfc/rfc8446)).
    case tls13 = 13

    /// Parses the names OpenSSL and configuration files use: `TLSv1.2`, `TLSv1.3` (also `1.2`, `tls1.3`).
    public init?(name: String) {
        var text = name.lowercased()
        if text.hasPrefix("tlsv") {
            text.removeFirst(4)
        } else if text.hasPrefix("tls") {
            text.removeFirst(3)
        }
        switch text {
        case "1", "1.0": self = .tls10
        case "1.1": self = .tls11
        case "1.2": self = .tls12
        case "1.3": self = .tls13
        default: return nil
        }
    }

    /// The name OpenSSL reports for a negotiated session, such as `TLSv1.3`.
    public var description: String {
        switch self {
        case .tls10: "TLSv1"
        case .tls11: "TLSv1.1"
        case .tls12: "TLSv1.2"
        case .tls13: "TLSv1.3"
        }
    }

    /// Older versions sort first.
    public static func < (lhs: TLSProtocolVersion, rhs: TLSProtocolVersion) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// The wire constant OpenSSL expects in `SSL_CTX_set_min_proto_version`.
    var openSSLValue: Int32 {
        switch self {
        case .tls10: COpenSSL_TLS1_VERSION()
        case .tls11: COpenSSL_TLS1_1_VERSION()
        case .tls12: COpenSSL_TLS1_2_VERSION()
        case .tls13: COpenSSL_TLS1_3_VERSION()
        }
    }
}
