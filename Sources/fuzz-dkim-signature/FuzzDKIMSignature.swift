// fuzz-dkim-signature: libFuzzer target for DKIM tag-lists (RFC 6376 §3.2): DKIM-Signature values and key
// records. Parsing must never trap, and whatever parses must serialise to text that parses the same.

import PostOfficeFuzzSupport

@main
struct FuzzDKIMSignature {
    static func main() {
        FuzzEntry.run(name: "fuzz-dkim-signature") { bytes in
            DKIMSignatureHarness.check(bytes)
        }
    }
}
