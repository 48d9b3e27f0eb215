// DNSResolverConfiguration: which servers to ask and how patiently. Read from /etc/resolv.conf text
// (`nameserver`, `options timeout:N attempts:N`, glibc's limits and defaults) or from an explicit
// `HOST:PORT` list (the `dns_servers` setting), which replaces the resolv.conf servers.

/// Resolver settings: servers in order, seconds to wait per try, and rounds over the server list.
///
/// See [resolv.conf(5)](https://man7.org/linux/man-pages/man5/resolv.conf.5.html).
public struct DNSResolverConfiguration: Hashable, Sendable {
    public var servers: [DNSServerAddress]
    /// Seconds to wait for each try (resolv.conf `timeout:`, 1...30).
    public var timeoutSeconds: Int
    /// Rounds over the whole server list (resolv.conf `attempts:`, 1...5).
    public var attempts: Int
    /// The UDP payload size advertised with EDNS0.
    public var ednsPayloadSize: UInt16

    /// glibc's limits: three servers (MAXNS), 30 s (RES_MAXRETRANS), five rounds (RES_MAXRETRY).
    public static let maxServers = 3
    public static let timeoutRange = 1...30
    public static let attemptsRange = 1...5
    /// With no `nameserver` line glibc asks the local machine.
    public static let defaultServer = DNSServerAddress(address: IPAddress("127.0.0.1")!)

    public init(
        servers: [DNSServerAddress], timeoutSeconds: Int = 5, attempts: Int = 2,
        ednsPayloadSize: UInt16 = DNSEDNS.advertisedPayloadSize
    ) {
        self.servers = servers.isEmpty ? [Self.defaultServer] : servers
        self.timeoutSeconds = min(max(timeoutSeconds, Self.timeoutRange.lowerBound), Self.timeoutRange.upperBound)
        self.attempts = min(max(attempts, Self.attemptsRange.lowerBound), Self.attemptsRange.upperBound)
        self.ednsPayloadSize = ednsPayloadSize
    }

    /// Reads resolv.conf text. Unusable lines are skipped as glibc skips them: names and scoped (`%if`)
    /// addresses in `nameserver`, servers past the third, unknown keywords and options.
    public init(resolvConf text: String) {
        var servers: [DNSServerAddress] = []
        var timeout = 5
        var attempts = 2
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = rawLine.prefix { $0 != "#" && $0 != ";" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first else { continue }
            switch keyword {
            case "nameserver":
                // resolv.conf has no port syntax: the address alone, port 53.
                guard words.count >= 2, servers.count < Self.maxServers,
                    let address = IPAddress(String(words[1]))
                else { continue }
                servers.append(DNSServerAddress(address: address))
            case "options":
                for option in words.dropFirst() {
                    if option.hasPrefix("timeout:"), let value = Int(option.dropFirst(8)) { timeout = value }
                    if option.hasPrefix("attempts:"), let value = Int(option.dropFirst(9)) { attempts = value }
                }
            default:
                continue
            }
        }
        self.init(servers: servers, timeoutSeconds: timeout, attempts: attempts)
    }

    /// This configuration with its servers replaced by `list` (`HOST:PORT` entries, the `dns_servers`
    /// setting); an empty list keeps the current servers. Throws on the first entry that does not parse.
    public func overridingServers(_ list: [String]) throws(DNSConfigurationError) -> DNSResolverConfiguration {
        guard !list.isEmpty else { return self }
        var copy = self
        copy.servers = []
        for entry in list {
            guard let server = DNSServerAddress(parsing: entry) else { throw DNSConfigurationError(entry: entry) }
            copy.servers.append(server)
        }
        return copy
    }
}

/// A `dns_servers` entry that is not `IP`, `IP:PORT` or `[IPv6]:PORT`.
public struct DNSConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var entry: String
    public var description: String { "not a DNS server address (IP or IP:PORT): \(entry)" }
}
