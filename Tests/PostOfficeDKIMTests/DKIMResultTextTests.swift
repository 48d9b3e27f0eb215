// DKIMResultTextTests: the Authentication-Results resinfo of a DKIM result, now built in one String with the
// `b=` prefix and the quoting taken on bytes, is exactly the text of the version it replaced (the reference here).

import PostOfficeDKIM
import Testing

struct DKIMResultTextTests {
    /// The resinfo as it was built before (scalar filter, Character prefix, parts joined): the reference.
    static func reference(_ result: DKIMResult) -> String {
        func quoted(_ text: String) -> String {
            String(text.unicodeScalars.filter { $0 != "\"" && $0 != "\\" && $0.value >= 32 && $0.value != 127 })
        }
        func propertyValue(_ text: String) -> String {
            let token = text.utf8.allSatisfy {
                (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 46 || $0 == 95
                    || $0 >= 0x80
            }
            return token ? text : "\"\(quoted(text))\""
        }
        var parts = ["dkim=\(result.status.rawValue)"]
        if let reason = result.reason { parts.append("reason=\"\(quoted(reason.description))\"") }
        if let domain = result.domain { parts.append("header.d=\(propertyValue(domain))") }
        if let selector = result.selector { parts.append("header.s=\(propertyValue(selector))") }
        if let signatureText = result.signatureText, !signatureText.isEmpty {
            parts.append("header.b=\(propertyValue(String(signatureText.prefix(8))))")
        }
        return parts.joined(separator: " ")
    }

    @Test(arguments: [
        "abcdefghijkl", "ab/+=cdefgh", "abc", "", "abcdefgh", "abcdefghi", "abcdefgh\u{301}xyz", "abcdefg\u{301}hxyz",
        "abcdefg\r\nxyz", "abcdef\r\nxyz", "\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}", "a\"b\\c\u{7}defghij",
        "\u{1F600}bcdefghij", "abcdefg\u{1F1E9}\u{1F1EA}", "a\u{7F}bcdefghi",
    ])
    func signaturePrefix(signatureText: String) {
        let result = DKIMResult(status: .pass, domain: "example.org", selector: "sel", signatureText: signatureText)
        #expect(result.authenticationResult == Self.reference(result))
    }

    @Test(arguments: [
        DKIMResult.none,
        DKIMResult(status: .fail, reason: .bodyHashMismatch, domain: "other.example", selector: "s2"),
        DKIMResult(status: .neutral, reason: .testing(underlying: "a \"quoted\" \\ thing\n\u{7F}\u{E9}"), domain: "x.example"),
        DKIMResult(status: .permerror, reason: .keyTooSmall(bits: 512), domain: "d\"q.example", selector: "s e\u{FC}l"),
        DKIMResult(status: .temperror, reason: .dnsTemporaryFailure, domain: "b\u{FC}cher.example", selector: "a/b"),
        DKIMResult(status: .pass, domain: "", selector: "", signatureText: "ZZZZ"),
    ])
    func wholeResinfo(result: DKIMResult) {
        #expect(result.authenticationResult == Self.reference(result))
    }

    @Test func knownText() {
        let result = DKIMResult(status: .fail, reason: .testing(underlying: "x\"y"), domain: "example.org", selector: "s", signatureText: "ab/+=cdefgh")
        #expect(result.authenticationResult == "dkim=fail reason=\"testing mode: xy\" header.d=example.org header.s=s header.b=\"ab/+=cde\"")
    }
}
