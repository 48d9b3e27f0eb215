// ExactTextTests: the byte-for-byte cache key: canonically equivalent texts are different keys, equal bytes
// are equal keys with equal hashes (Hashable's contract), whatever the string's storage.

import PostOfficeCore
import Testing

@Suite("ExactText")
struct ExactTextTests {
    @Test("equal exactly when the UTF-8 bytes are equal", arguments: [
        ("v=DKIM1; p=abc", "v=DKIM1; p=abc", true),
        ("v=DKIM1; p=abc", "v=DKIM1; p=abd", false),
        ("v=DKIM1; p=abc", "v=DKIM1; p=ab", false),
        ("", "", true),
        ("caf\u{E9}", "cafe\u{301}", false),  // String's == calls these equal
        ("\u{E9}", "\u{E9}", true),
    ])
    func equality(left: String, right: String, equal: Bool) {
        #expect((ExactText(left) == ExactText(right)) == equal)
        if equal { #expect(ExactText(left).hashValue == ExactText(right).hashValue) }
    }

    @Test("a bridged or substring-built text hashes like a literal one")
    func storage() {
        let long = String(repeating: "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", count: 8)
        let rebuilt = String(Substring(long + "x").dropLast())
        #expect(ExactText(long) == ExactText(rebuilt))
        #expect(Set([ExactText(long), ExactText(rebuilt)]).count == 1)
    }
}
