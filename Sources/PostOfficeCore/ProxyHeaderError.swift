// ProxyHeaderError: why the first bytes of a connection on a PROXY protocol listener are not a valid
// header. Each case says what was wrong, for the log line written when the connection is closed.

/// Why a PROXY protocol header was refused. Final: a connection that sent one is closed.
public enum ProxyHeaderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Neither `PROXY ` (v1) nor the v2 signature: the client talks to us directly, not through the proxy.
    case missingSignature
    /// A v1 line without CRLF within 107 bytes.
    case lineTooLong
    /// A v1 line that does not follow the grammar; the text says where.
    case malformedLine(String)
    /// A v2 version nibble other than 2.
    case unsupportedVersion(Int)
    /// A v2 command other than LOCAL (0) or PROXY (1).
    case unsupportedCommand(Int)
    /// A v2 address family or transport this server cannot use (datagram, or an unknown value).
    case unsupportedAddressFamily(Int)
    /// A v2 length too small for its address family's addresses.
    case addressBlockTooShort(family: String, length: Int)
    /// A v2 length above the decoder's bound.
    case tooLong(length: Int, maximum: Int)

    public var description: String {
        switch self {
        case .missingSignature: "no PROXY protocol header (neither 'PROXY ' nor the v2 signature)"
        case .lineTooLong: "PROXY v1 line longer than 107 bytes"
        case .malformedLine(let detail): "malformed PROXY v1 line: \(detail)"
        case .unsupportedVersion(let version): "PROXY v2 header with version \(version)"
        case .unsupportedCommand(let command): "PROXY v2 header with command \(command)"
        case .unsupportedAddressFamily(let byte): "PROXY v2 address family/transport 0x\(String(byte, radix: 16)) not supported"
        case .addressBlockTooShort(let family, let length): "PROXY v2 length \(length) too short for \(family) addresses"
        case .tooLong(let length, let maximum): "PROXY v2 length \(length) over the limit of \(maximum)"
        }
    }
}
