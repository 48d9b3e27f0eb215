// MailAddressCanonicalTests: the one address comparison rule — ASCII letters fold, nothing else does, and
// canonical forms compare byte for byte (issue 19: U+212A KELVIN SIGN must not reach or log in as kate).

import Testing
import PostOfficeCore

@Suite struct MailAddressCanonicalTests {
    @Test(arguments: [
        ("Kate@example.test", "kate@example.test", true),
        ("KATE@EXAMPLE.TEST", "kate@example.test", true),
        ("kate@EXAMPLE.Test", "kate@example.test", true),
        ("\u{e9}mile@example.test", "\u{e9}mile@example.test", true),
        ("\u{212A}ate@example.test", "kate@example.test", false),  // KELVIN SIGN folds to k in Unicode
        ("\u{212A}ate@example.test", "Kate@example.test", false),  // and is canonically equivalent to K
        ("\u{17F}am@example.test", "sam@example.test", false),  // LATIN SMALL LETTER LONG S
        ("\u{130}van@example.test", "ivan@example.test", false),  // I WITH DOT ABOVE does not fold
        ("\u{130}van@example.test", "i\u{307}van@example.test", false),  // nor to its Unicode lowercase
        ("\u{C9}MILE@example.test", "\u{e9}mile@example.test", false),  // no Unicode case folding
        ("jos\u{e9}@example.test", "jose\u{301}@example.test", false),  // no normalization
        ("kate@\u{212A}.test", "kate@k.test", false),  // domains: ASCII folding only, no IDNA
        ("kate@B\u{FC}cher.test", "kate@b\u{FC}cher.test", true),
        ("kate@B\u{DC}CHER.test", "kate@b\u{FC}cher.test", false),
    ])
    func comparesCanonicalFormsByteForByte(_ a: String, _ b: String, _ same: Bool) {
        #expect(MailAddress.isCanonicallyEqual(a, b) == same)
        #expect(MailAddress.isCanonicallyEqual(b, a) == same)
        let parsedA = MailAddress(a)!, parsedB = MailAddress(b)!
        #expect(parsedA.canonical.utf8.elementsEqual(parsedB.canonical.utf8) == same)
    }

    @Test func canonicalFormFoldsOnlyASCIILetters() {
        #expect(MailAddress(localPart: "Kate.O'Neil+Tag", domain: "Mail.Example.TEST").canonical == "kate.o'neil+tag@mail.example.test")
        #expect(Array(MailAddress.canonicalLocalPart("\u{212A}ATE").utf8) == Array("\u{212A}ate".utf8))
        #expect(Array(MailAddress.canonicalLocalPart("\u{130}").utf8) == Array("\u{130}".utf8))
        #expect(MailAddress.canonicalAddress("Postmaster") == "postmaster")
        #expect(MailAddress(localPart: "x", domain: "EXAMPLE.test").normalizedDomain == "example.test")
    }

    @Test func lookupsRefuseCanonicallyEquivalentKeys() {
        // Swift's String equality calls U+212A and K equal; the lookup helpers must not.
        let users: Set<String> = ["Kate@example.test", "kate@example.test"]
        #expect(MailAddress.contains("kate@example.test", in: users))
        #expect(!MailAddress.contains("\u{212A}ate@example.test", in: users))
        let aliases = ["Kate@example.test": 1]
        #expect(MailAddress.lookup("Kate@example.test", in: aliases) == 1)
        #expect(MailAddress.lookup("\u{212A}ate@example.test", in: aliases) == nil)
        #expect(MailAddress.lookup("jose\u{301}", in: ["jos\u{e9}": 1]) == nil)
    }

    /// The `@` found on the bytes (ASCII) is the one Swift's Character search finds; beyond ASCII the
    /// Character search decides, where an `@` carrying a combining mark is no `@`.
    @Test(arguments: ["a@b", "a@b@c", "@", "abc", "", "a@", "@b", "a\r\n@b", "é@x", "a@b@\u{301}c", "a@\u{301}", "\u{301}@x@y"])
    func lastAtSignIsTheCharacterSearchsAnswer(text: String) {
        #expect(MailAddress.lastAtSign(in: text) == text.lastIndex(of: "@"))
    }
}
