// XTextTests: xtext (RFC 3461 §4) both ways — round trips, upper-case hex on output, refusal of non-xtext.

import PostOfficeDSN
import Testing

struct XTextTests {
    @Test(arguments: [
        ("a+b", "a+2Bb"), ("a=b", "a+3Db"), ("plain@example.org", "plain@example.org"), ("a b", "a+20b"),
        ("caf\u{E9}", "caf+C3+A9"), ("tab\there", "tab+09here"), ("", ""), ("+", "+2B"),
    ])
    func roundTrips(decoded: String, encoded: String) {
        #expect(XText.encode(decoded) == encoded)
        #expect(XText.decode(encoded) == decoded)
    }

    @Test(arguments: ["a+2", "a+", "a+ZZ", "a=b", "a b", "caf\u{E9}", "x+G0"])
    func refusesWhatIsNotXText(_ text: String) {
        #expect(XText.decode(text) == nil)
    }

    @Test func acceptsLowerCaseHex() {
        #expect(XText.decode("a+2bb") == "a+b")
    }
}
