// DNSServerAddress: where a query goes: an IP literal and a port. Parsed from resolv.conf `nameserver`
// lines and from the `dns_servers` setting (`HOST:PORT`, `[V6]:PORT`, or a bare address for port 53).

/// A DNS server: IP address and UDP/TCP port.
public struct DNSServerAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }

    /// Parses `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`; nil otherwise
    /// (names are refused: the resolver cannot resolve its own servers).
    public init?(parsing text: String) {
        var host = Substring(text)
        var port: UInt16 = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = UInt16(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            // Exactly one colon: IPv4 with a port. More than one: a bare IPv6 address.
            guard let value = UInt16(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard port != 0, let address = IPAddress(String(host)) else { return nil }
        self.init(address: address, port: port)
    }

    /// `192.0.2.53:53` or `[2001:db8::53]:53`.
    public var description: String {
        address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
