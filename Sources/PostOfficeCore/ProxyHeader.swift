// ProxyHeader: what a PROXY protocol header (HAProxy's v1 text line or v2 binary block) says about the
// connection a proxy forwards — the original client's address and port and the address it connected to.
// ProxyHeaderDecoder reads it from the first bytes of a connection.

/// A decoded PROXY protocol header
/// ([HAProxy's specification](https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt)).
public struct ProxyHeader: Sendable, Hashable {
    /// Version 1 is a text line (`PROXY TCP4 ...\r\n`), version 2 a binary block after a 12-byte signature.
    public enum Version: Int, Sendable, Hashable {
        case one = 1
        case two = 2
    }

    /// Whether the header speaks for a client (`proxy`) or for the proxy itself (`local`, v2 only: a health
    /// check), in which case the socket's own addresses stand.
    public enum Command: Sendable, Hashable {
        case local
        case proxy
    }

    /// An IP address in presentation form (`192.0.2.7`, `2001:db8::1`; IPv4-mapped IPv6 as plain IPv4) and a port.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public var version: Version
    public var command: Command
    /// The original client, or nil when the header names none (LOCAL, v1 `UNKNOWN`, v2 `AF_UNSPEC` or
    /// `AF_UNIX`): then the socket's peer address is used, as the specification asks.
    public var source: Endpoint?
    /// The address the client connected to on the proxy, nil when `source` is.
    public var destination: Endpoint?
    /// How many bytes of the connection the header took (TLVs included); what follows is the client's.
    public var length: Int

    public init(version: Version, command: Command, source: Endpoint?, destination: Endpoint?, length: Int) {
        self.version = version
        self.command = command
        self.source = source
        self.destination = destination
        self.length = length
    }
}
