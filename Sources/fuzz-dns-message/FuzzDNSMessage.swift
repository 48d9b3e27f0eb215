// fuzz-dns-message: libFuzzer target for the DNS codec and the query engine. Decoding arbitrary octets
// must never trap; a message that decodes must encode and decode back to itself (model check).

import PostOfficeFuzzSupport

@main
struct FuzzDNSMessage {
    static func main() {
        FuzzEntry.run(name: "fuzz-dns-message") { bytes in
            DNSMessageHarness.check(bytes)
        }
    }
}
