// fuzz-proxy-header: libFuzzer target for ProxyHeaderDecoder, the PROXY protocol (v1/v2) header read before
// anything else on a proxied listener. Arbitrary first bytes must decode the same however they are split.

import PostOfficeFuzzSupport

@main
struct FuzzProxyHeader {
    static func main() {
        FuzzEntry.run(name: "fuzz-proxy-header") { bytes in
            ProxyHeaderHarness.check(bytes)
        }
    }
}
