// NetworkRangeTests: CIDR parsing and membership, IPv4, IPv6 and IPv4-mapped, with the invalid forms refused.

import PostOfficeCore
import Testing

@Suite struct NetworkRangeTests {
    @Test(arguments: [
        ("127.0.0.0/8", "127.0.0.1", true), ("127.0.0.0/8", "127.255.1.2", true), ("127.0.0.0/8", "128.0.0.1", false),
        ("10.1.2.0/23", "10.1.3.255", true), ("10.1.2.0/23", "10.1.4.0", false), ("192.0.2.7", "192.0.2.7", true),
        ("192.0.2.7", "192.0.2.8", false), ("0.0.0.0/0", "203.0.113.9", true), ("::1/128", "::1", true),
        ("::1/128", "::2", false), ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
        ("127.0.0.0/8", "::ffff:127.0.0.1", true), ("127.0.0.0/8", "::1", false), ("::1/128", "127.0.0.1", false),
        ("127.0.0.0/8", "localhost", false),
    ])
    func membership(_ network: String, _ address: String, _ expected: Bool) throws {
        let range = try #require(NetworkRange(network))
        #expect(range.contains(address) == expected)
    }

    @Test(arguments: ["", "127.0.0.1/33", "::1/129", "127.0.0.1/", "127.0.0.1/-1", "example.test/8", "127.0.0/8", "1.2.3.4/٣"])
    func invalidNetworksAreRefused(_ text: String) {
        #expect(NetworkRange(text) == nil)
    }

    @Test func descriptionRoundTrips() throws {
        for text in ["127.0.0.0/8", "2001:db8::/32", "::1/128"] {
            #expect(try #require(NetworkRange(text)).description == text)
        }
    }

    @Test func loopbackIsTheDefaultTrust() {
        #expect(NetworkRange.loopback.contains(address: "127.0.0.1"))
        #expect(NetworkRange.loopback.contains(address: "::1"))
        #expect(!NetworkRange.loopback.contains(address: "192.0.2.1"))
    }
}
