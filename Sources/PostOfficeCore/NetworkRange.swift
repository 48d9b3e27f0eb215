// NetworkRange: an IPv4 or IPv6 network in CIDR notation ("127.0.0.0/8", "2001:db8::/32", or one address),
// for settings that trust clients by network — plaintext_auth_networks today, relay_networks next — instead
// of "loopback" decided by the peer address alone (a local proxy makes every client look local).

#if canImport(Glibc)
import Glibc
#endif

/// A CIDR block that can say whether an address belongs to it. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
/// match the IPv4 block they map to.
public struct NetworkRange: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let prefixBytes: [UInt8]
    /// How many leading bits must match.
    public let prefixLength: Int

    /// The loopback networks, 127.0.0.0/8 and ::1/128: the default for settings that used to say "loopback".
    public static let loopback: [NetworkRange] = [NetworkRange("127.0.0.0/8")!, NetworkRange("::1/128")!]

    /// Parses "ADDRESS/BITS" or a single address (a /32 or /128). nil when it is not a literal IP address or
    /// the prefix length is out of range.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else { return nil }
        let maximum = bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let bits = Int(parts[1]), (0...maximum).contains(bits), parts[1].allSatisfy(\.isASCII) else { return nil }
            length = bits
        }
        prefixBytes = bytes
        prefixLength = length
    }

    /// True when `address` (a literal IPv4 or IPv6 address) is inside this network.
    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        if bytes.count == 16 && prefixBytes.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == prefixBytes.count else { return false }
        var remaining = prefixLength
        for index in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if bytes[index] & mask != prefixBytes[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = prefixBytes.count == 4 ? AF_INET : AF_INET6
        _ = prefixBytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        let end = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefixLength)"
    }

    /// The address's bytes, or nil when it is not a literal address.
    private static func bytes(of address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

extension Array where Element == NetworkRange {
    /// True when any of the networks contains `address`.
    public func contains(address: String) -> Bool { contains { $0.contains(address) } }
}
