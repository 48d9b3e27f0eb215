// DNSResolverConfigurationTests: resolv.conf parsing (servers, limits, options) and the `dns_servers`
// HOST:PORT override.

import Testing
@testable import PostOfficeDNS

@Suite struct DNSResolverConfigurationTests {
    @Test func readsServersAndOptions() {
        let text = """
            # generated
            search example.com
            nameserver 127.0.0.53
            nameserver ::1   # comment
            nameserver resolver.example
            nameserver fe80::1%eth0
            options ndots:2 timeout:3 attempts:4 rotate
            """
        let configuration = DNSResolverConfiguration(resolvConf: text)
        #expect(configuration.servers == [server("127.0.0.53:53"), server("[::1]:53")])
        #expect(configuration.timeoutSeconds == 3 && configuration.attempts == 4)
    }

    @Test func emptyFileMeansLocalhostAndGlibcDefaults() {
        let configuration = DNSResolverConfiguration(resolvConf: "")
        #expect(configuration.servers == [server("127.0.0.1:53")])
        #expect(configuration.timeoutSeconds == 5 && configuration.attempts == 2)
    }

    @Test func limitsFollowGlibc() {
        let text = (1...5).map { "nameserver 127.0.0.\($0)" }.joined(separator: "\n") + "\noptions timeout:99 attempts:0"
        let configuration = DNSResolverConfiguration(resolvConf: text)
        #expect(configuration.servers.count == 3)
        #expect(configuration.timeoutSeconds == 30 && configuration.attempts == 1)
    }

    @Test(arguments: [
        ("127.0.0.53", "127.0.0.53:53"), ("127.0.0.53:5353", "127.0.0.53:5353"), ("::1", "[::1]:53"),
        ("[::1]:5300", "[::1]:5300"),
    ])
    func serverAddressesParse(text: String, printed: String) {
        #expect(DNSServerAddress(parsing: text)?.description == printed)
    }

    @Test(arguments: ["resolver.example:53", "127.0.0.1:0", "127.0.0.1:99999", "[::1", "[::1]x", "1.2.3:53", ""])
    func badServerAddressesAreRefused(text: String) {
        #expect(DNSServerAddress(parsing: text) == nil)
    }

    @Test func overrideReplacesServersAndKeepsOptions() throws {
        let base = DNSResolverConfiguration(resolvConf: "nameserver 127.0.0.1\noptions timeout:1")
        let changed = try base.overridingServers(["127.0.0.53:5353", "[::1]:53"])
        #expect(changed.servers == [server("127.0.0.53:5353"), server("[::1]:53")])
        #expect(changed.timeoutSeconds == 1)
        #expect(try base.overridingServers([]) == base)
        #expect(throws: DNSConfigurationError(entry: "dns.example")) { try base.overridingServers(["dns.example"]) }
    }
}
