// ProxyHeaderDecoder: reads the PROXY protocol header (v1 text or v2 binary) a proxy such as HAProxy sends
// before the client's own bytes. Sans-I/O: bytes in, a status out. A prefix of a valid header is
// "incomplete", never "invalid"; a wrong signature byte is refused at once, the rest when the line or
// block is whole.

#if canImport(Glibc)
import Glibc
#endif

/// Decodes one PROXY protocol header from the start of a connection
/// ([HAProxy's proxy-protocol.txt](https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt), v1 §2.1 and
/// v2 §2.2). Feed it bytes as they arrive; it holds at most one header's worth (107 bytes for v1,
/// 16 + ``maximumV2Length`` for v2) before it decides.
///
/// ```swift
/// var decoder = ProxyHeaderDecoder()
/// switch decoder.feed(bytesFromSocket) {
/// case .incomplete: break                                   // read more
/// case .complete(let header, let remainder): ...            // header.source is the client; remainder is its data
/// case .invalid(let error): ...                             // close the connection, log error
/// }
/// ```
public struct ProxyHeaderDecoder: Sendable {
    /// Where decoding stands. `complete` and `invalid` are final: later bytes change nothing.
    public enum Status: Sendable, Hashable {
        case incomplete
        /// The header, and the bytes after it that arrived with it (the client's first data, often none).
        case complete(ProxyHeader, remainder: [UInt8])
        case invalid(ProxyHeaderError)
    }

    /// The longest v1 line, CRLF included (§2.1: "PROXY TCP6" with two full IPv6 addresses and ports).
    public static let maximumLineLength = 107
    /// The v2 signature, §2.2: `\r\n\r\n\0\r\nQUIT\n`.
    public static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    private static let lineStart = Array("PROXY ".utf8)

    /// The largest v2 address-and-TLV block accepted (the 16-bit length field allows 65535; senders such as
    /// HAProxy send well under this even with TLS TLVs).
    public let maximumV2Length: Int
    public private(set) var status: Status = .incomplete
    private var buffer: [UInt8] = []

    public init(maximumV2Length: Int = 4096) {
        self.maximumV2Length = maximumV2Length
    }

    /// The bytes held while the header is incomplete.
    public var bufferedByteCount: Int { buffer.count }

    /// Adds bytes read from the connection and says where decoding stands.
    @discardableResult
    public mutating func feed(_ bytes: some Collection<UInt8>) -> Status {
        guard case .incomplete = status else { return status }
        buffer.append(contentsOf: bytes)
        switch decode(buffer) {
        case .incomplete:
            break
        case .complete(let header):
            status = .complete(header, remainder: Array(buffer[header.length...]))
            buffer = []
        case .invalid(let error):
            status = .invalid(error)
            buffer = []
        }
        return status
    }

    private enum Step {
        case incomplete
        case complete(ProxyHeader)
        case invalid(ProxyHeaderError)
    }

    private func decode(_ bytes: [UInt8]) -> Step {
        guard let first = bytes.first else { return .incomplete }
        switch first {
        case UInt8(ascii: "P"): return decodeLine(bytes)
        case Self.signature[0]: return decodeBinary(bytes)
        default: return .invalid(.missingSignature)
        }
    }

    // MARK: - Version 1

    private func decodeLine(_ bytes: [UInt8]) -> Step {
        let prefix = min(bytes.count, Self.lineStart.count)
        guard bytes[..<prefix].elementsEqual(Self.lineStart[..<prefix]) else { return .invalid(.missingSignature) }
        // The CR of a line of at most 107 bytes is at index 105 or before.
        let limit = min(bytes.count, Self.maximumLineLength - 1)
        var end: Int?
        for index in 0..<limit {
            let byte = bytes[index]
            if byte == 0x0A { return .invalid(.malformedLine("LF without CR")) }
            if byte == 0x0D {
                end = index
                break
            }
        }
        guard let end else {
            return bytes.count >= Self.maximumLineLength - 1 ? .invalid(.lineTooLong) : .incomplete
        }
        guard end + 1 < bytes.count else { return .incomplete }
        guard bytes[end + 1] == 0x0A else { return .invalid(.malformedLine("CR without LF")) }
        let length = end + 2
        let words = bytes[Self.lineStart.count..<end].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard let protocolName = words.first else { return .invalid(.malformedLine("no protocol")) }
        switch protocolName {
        case "UNKNOWN":
            // §2.1: the rest of an UNKNOWN line is ignored; the socket's addresses stand.
            return .complete(ProxyHeader(version: .one, command: .proxy, source: nil, destination: nil, length: length))
        case "TCP4", "TCP6":
            guard words.count == 5 else {
                return .invalid(.malformedLine("\(protocolName) needs 4 fields separated by single spaces, got \(words.count - 1)"))
            }
            let family = protocolName == "TCP4" ? AF_INET : AF_INET6
            guard let sourceHost = Self.normalizedHost(words[1], family: family) else {
                return .invalid(.malformedLine("source '\(words[1])' is not an \(protocolName) address"))
            }
            guard let destinationHost = Self.normalizedHost(words[2], family: family) else {
                return .invalid(.malformedLine("destination '\(words[2])' is not an \(protocolName) address"))
            }
            guard let sourcePort = Self.port(words[3]), let destinationPort = Self.port(words[4]) else {
                return .invalid(.malformedLine("ports must be decimal numbers 0-65535"))
            }
            return .complete(ProxyHeader(
                version: .one, command: .proxy,
                source: ProxyHeader.Endpoint(host: sourceHost, port: sourcePort),
                destination: ProxyHeader.Endpoint(host: destinationHost, port: destinationPort), length: length))
        default:
            return .invalid(.malformedLine("protocol must be TCP4, TCP6 or UNKNOWN"))
        }
    }

    /// 1 to 5 digits, no sign, no leading zero (§2.1), at most 65535.
    private static func port(_ text: String) -> Int? {
        guard (1...5).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            text == "0" || !text.hasPrefix("0"), let value = Int(text), value <= 65535
        else { return nil }
        return value
    }

    /// The address in the usual presentation form, or nil when `text` is not one of `family`.
    private static func normalizedHost(_ text: String, family: Int32) -> String? {
        guard !text.isEmpty, text.utf8.count < 64 else { return nil }
        if family == AF_INET {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            return withUnsafeBytes(of: &address) { ipv4String(Array($0)) }
        }
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { ipv6String(Array($0)) }
    }

    private static func ipv4String(_ bytes: [UInt8]) -> String {
        bytes.prefix(4).map(String.init).joined(separator: ".")
    }

    /// RFC 5952 form from inet_ntop; IPv4-mapped addresses as plain IPv4, as the server's own peers are.
    private static func ipv6String(_ bytes: [UInt8]) -> String {
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return ipv4String(Array(bytes[12..<16]))
        }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes.prefix(16)) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return "::" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Version 2

    private func decodeBinary(_ bytes: [UInt8]) -> Step {
        let prefix = min(bytes.count, Self.signature.count)
        guard bytes[..<prefix].elementsEqual(Self.signature[..<prefix]) else { return .invalid(.missingSignature) }
        guard bytes.count > 12 else { return .incomplete }
        let versionAndCommand = Int(bytes[12])
        guard versionAndCommand >> 4 == 2 else { return .invalid(.unsupportedVersion(versionAndCommand >> 4)) }
        let command: ProxyHeader.Command
        switch versionAndCommand & 0x0F {
        case 0: command = .local
        case 1: command = .proxy
        default: return .invalid(.unsupportedCommand(versionAndCommand & 0x0F))
        }
        guard bytes.count > 13 else { return .incomplete }
        let family = Int(bytes[13])
        // §2.2: LOCAL ignores the family and addresses; PROXY needs a stream (or unspecified) family.
        let addressLength: Int
        switch (command, family) {
        case (.local, _), (.proxy, 0x00): addressLength = 0
        case (.proxy, 0x11): addressLength = 12
        case (.proxy, 0x21): addressLength = 36
        case (.proxy, 0x31): addressLength = 216
        default: return .invalid(.unsupportedAddressFamily(family))
        }
        guard bytes.count >= 16 else { return .incomplete }
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        guard length <= maximumV2Length else { return .invalid(.tooLong(length: length, maximum: maximumV2Length)) }
        guard length >= addressLength else {
            let name = family == 0x11 ? "IPv4" : family == 0x21 ? "IPv6" : "UNIX"
            return .invalid(.addressBlockTooShort(family: name, length: length))
        }
        guard bytes.count >= 16 + length else { return .incomplete }
        // TLVs after the addresses (ALPN, authority, TLS details) are skipped: nothing here needs them.
        var source: ProxyHeader.Endpoint?
        var destination: ProxyHeader.Endpoint?
        if command == .proxy && (family == 0x11 || family == 0x21) {
            let block = Array(bytes[16..<(16 + addressLength)])
            let size = family == 0x11 ? 4 : 16
            let render = family == 0x11 ? Self.ipv4String : Self.ipv6String
            let ports = 2 * size
            source = ProxyHeader.Endpoint(
                host: render(Array(block[0..<size])), port: Int(block[ports]) << 8 | Int(block[ports + 1]))
            destination = ProxyHeader.Endpoint(
                host: render(Array(block[size..<ports])), port: Int(block[ports + 2]) << 8 | Int(block[ports + 3]))
        }
        return .complete(ProxyHeader(
            version: .two, command: command, source: source, destination: destination, length: 16 + length))
    }
}
