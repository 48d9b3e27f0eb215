// LoginThrottle+ClientKey: which clients share one allowance. An IPv4 address is its own client; an IPv6
// address stands for its /64, since one host usually holds a whole /64 and could rotate through it.
// The runtime uses the same key for per-client connection caps.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LoginThrottle {
    /// The key that groups `address` with the clients sharing its allowance (login throttle, connection caps):
    /// - IPv4 (`192.0.2.7`): the address as given;
    /// - IPv6 (`2001:db8:1:2::7`, `[2001:db8:1:2::7]`, with or without a `%zone`): its /64 in canonical
    ///   form, `2001:db8:1:2::/64`;
    /// - IPv4-mapped IPv6 (`::ffff:192.0.2.7`, what a dual-stack socket reports): the IPv4 address, so IPv4
    ///   clients are not all lumped into `::/64`;
    /// - anything else (a host name, an empty string): as given.
    ///
    /// A key is its own key, so passing a key again changes nothing.
    public static func key(forClient address: String) -> String {
        var text = Substring(address)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        guard text.contains(":") else { return address }
        var bytes = in6_addr()
        guard inet_pton(AF_INET6, String(text), &bytes) == 1 else { return address }
        let octets = withUnsafeBytes(of: &bytes) { Array($0) }
        if octets[0..<10].allSatisfy({ $0 == 0 }) && octets[10] == 0xff && octets[11] == 0xff {
            return octets[12..<16].map(String.init).joined(separator: ".")
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(octets[$0]) << 8 | UInt16(octets[$0 + 1]), radix: 16) }
        return canonical(groups) + "::/64"
    }

    /// The first four groups with a trailing run of zero groups left to the `::` that follows.
    private static func canonical(_ groups: [String]) -> String {
        var kept = groups
        while let last = kept.last, last == "0" { kept.removeLast() }
        return kept.joined(separator: ":")
    }
}
