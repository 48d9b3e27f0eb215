// fuzz-address-path: libFuzzer target for the path safety of local delivery. Whatever local part, domain,
// layout template or folder tag comes in, every Maildir path that RecipientResolver hands out must lie
// lexically under the mail root, with no `.`/`..` component and no NUL or control character.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeFuzzSupport
import PostOfficeMaildir

@main
struct FuzzAddressPath {
    static func main() {
        FuzzEntry.run(name: "fuzz-address-path") { bytes in
            AddressPathHarness(bytes).run()
        }
    }
}
