// IPAddress: an IPv4 or IPv6 address as its network-order octets, from A/AAAA records and server lists.
// Presentation and parsing go through inet_ntop/inet_pton so the text matches the rest of the runtime.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 (4 octets) or IPv6 (16 octets) address.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address in network byte order: 4 or 16 octets.
    public let octets: [UInt8]

    /// nil unless `octets` has 4 or 16 elements.
    public init?(octets: [UInt8]) {
        guard octets.count == 4 || octets.count == 16 else { return nil }
        self.octets = octets
    }

    /// Parses `192.0.2.1` or `2001:db8::1`; nil for anything else (host names included).
    public init?(_ text: String) {
        if text.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
            octets = withUnsafeBytes(of: &address) { Array($0) }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            octets = withUnsafeBytes(of: &address) { Array($0) }
        }
    }

    public var isIPv6: Bool { octets.count == 16 }

    /// True for 127.0.0.0/8 and ::1.
    public var isLoopback: Bool {
        isIPv6 ? octets == Array(repeating: 0, count: 15) + [1] : octets[0] == 127
    }

    /// `192.0.2.1` or `2001:db8::1` (RFC 5952 form, as inet_ntop writes it).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv6 ? AF_INET6 : AF_INET
        let written = octets.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard written else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
