// RelayHost: the `relayhost` setting as Postfix writes it — `[host]:port` (brackets: connect to the host's own
// addresses, no MX lookup), `host:port` (look up the host's MX records first, like transport_maps' `smtp:host`),
// or an IP address. Parsing and printing only; OutboundRouting resolves it through our own DNS resolver.

import PostOfficeDNS

/// The smarthost all mail for other domains goes through (Postfix's `relayhost`).
///
/// Postfix's forms: `[smtp.example.net]:587` connects to the A/AAAA addresses of `smtp.example.net`;
/// `smtp.example.net:587` looks up its MX records first (RFC 5321 §5.1), falling back to its addresses when it has
/// none; an IP address (`192.0.2.1:587`, `[2001:db8::1]:587`) is connected to as is.
public struct RelayHost: Hashable, Sendable, CustomStringConvertible {
    /// The host name (lower case) or IP address, without brackets.
    public var host: String
    /// The port; nil uses `smtp_destination_port` (25).
    public var port: Int?
    /// True for a bare host name (its MX records are looked up); false for `[host]` and for an IP address.
    public var looksUpMX: Bool

    public init(host: String, port: Int?, looksUpMX: Bool) {
        self.host = host.lowercased()
        self.port = port
        self.looksUpMX = looksUpMX && IPAddress(host) == nil
    }

    /// The relay host at an address (never looked up).
    public init(_ address: SocketAddress) {
        self.init(host: address.host, port: address.port, looksUpMX: false)
    }

    /// Reads `[host]:port`, `[host]`, `host:port`, `host`, `192.0.2.1:587` or `[2001:db8::1]:587`; nil for anything
    /// else (an invalid name, a port outside 1...65535, a bare IPv6 address without brackets).
    public init?(parsing text: String) {
        var host: String
        var portText: String?
        let bracketed = text.hasPrefix("[")
        if bracketed {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = String(after.dropFirst())
            }
        } else if let colon = text.lastIndex(of: ":") {
            // `2001:db8::1:25` is ambiguous: Postfix wants IPv6 in brackets, and so do we.
            guard !text[..<colon].contains(":") else { return nil }
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        } else {
            host = text
        }
        var port: Int?
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { return nil }
            port = value
        }
        if host == "localhost" { host = "127.0.0.1" }
        guard !host.isEmpty, IPAddress(host) != nil || Self.isHostName(host) else { return nil }
        self.init(host: host, port: port, looksUpMX: !bracketed)
    }

    /// The relay host's address when it is an IP address (not a name).
    public var address: SocketAddress? {
        guard IPAddress(host) != nil, let port else { return nil }
        return SocketAddress(host: host, port: port)
    }

    /// In Postfix's form: `[smtp.example.net]:587`, `smtp.example.net:587`, `192.0.2.1:587`, `[2001:db8::1]:587`.
    public var description: String {
        let isAddress = IPAddress(host) != nil
        let name = (!looksUpMX && !isAddress) || host.contains(":") ? "[\(host)]" : host
        return port.map { "\(name):\($0)" } ?? name
    }

    private static func isHostName(_ text: String) -> Bool {
        guard let name = try? DNSName(text), !name.description.isEmpty, name.description != "." else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }
            && !text.hasPrefix(".") && !text.hasPrefix("-") && !text.contains("..")
    }
}
