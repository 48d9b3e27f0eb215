// SMTPPathParserTests: a table of paths with the address they give, and one of paths that must be refused.

import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPPathParserTests {
    static let parser = SMTPPathParser(postmasterDomain: "mx.example.test")

    /// (path, local part, domain) of valid forward-paths.
    static let valid: [(String, String, String)] = [
        ("<a@b.example>", "a", "b.example"),
        ("<A.B-c+d@Example.TEST>", "A.B-c+d", "Example.TEST"),
        ("<!#$%&'*+-/=?^_`{|}~@x.example>", "!#$%&'*+-/=?^_`{|}~", "x.example"),
        ("<\"a b\"@x.example>", "a b", "x.example"),
        ("<\"a\\\"b\\\\c\"@x.example>", "a\"b\\c", "x.example"),
        ("<\"\"@x.example>", "", "x.example"),
        ("<\"a@b\"@x.example>", "a@b", "x.example"),
        ("<a@[192.0.2.1]>", "a", "[192.0.2.1]"),
        ("<a@[IPv6:2001:db8::1]>", "a", "[IPv6:2001:db8::1]"),
        ("<a@[IPv6:2001:db8:0:0:0:0:0:1]>", "a", "[IPv6:2001:db8:0:0:0:0:0:1]"),
        ("<a@[IPv6:::ffff:192.0.2.1]>", "a", "[IPv6:::ffff:192.0.2.1]"),
        ("<a@[IPv6:::]>", "a", "[IPv6:::]"),
        ("<a@[x-tag:anything]>", "a", "[x-tag:anything]"),
        ("<@relay.example:a@b.example>", "a", "b.example"),
        ("<@r1.example,@r2.example:a@b.example>", "a", "b.example"),
        ("<postmaster>", "postmaster", "mx.example.test"),
        ("<PostMaster>", "PostMaster", "mx.example.test"),
        ("<postmaster@b.example>", "postmaster", "b.example"),
        ("<jörg@bücher.example>", "jörg", "bücher.example"),
        ("<1@2>", "1", "2"),
        ("<a@x-y.example>", "a", "x-y.example"),
    ]

    static let invalid: [String] = [
        "", "<", ">", "<>", "a@b.example", "<a@b.example", "a@b.example>", "<a>", "<@b.example>", "<a@>",
        "<a@@b.example>", "<.a@b.example>", "<a.@b.example>", "<a..b@b.example>", "<a b@b.example>",
        "<\"a@b.example>", "<\"a\"b@x.example>", "<a@-b.example>", "<a@b-.example>", "<a@b..example>",
        "<a@.b.example>", "<a@b.example.>", "<a@b_c.example>", "<a@[192.0.2]>", "<a@[192.0.2.256]>",
        "<a@[1.2.3.4.5]>", "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", "<a@[IPv6:1::2::3]>", "<a@[IPv6:12345::]>",
        "<a@[IPv6:g::1]>", "<a@[IPv6::1]>", "<a@[IPv6:1:]>", "<a@[tag-:x]>", "<a@[:x]>", "<a@[x:]>",
        "<a@[a[b]>", "<a@b.example", "<@r.example a@b.example>", "<@r.example:>", "<@:a@b.example>",
        "<\"postmaster\">", "<postmaster >", "<@r.example:postmaster>", "<a@b.example >", "<a@b\\.example>",
    ]

    @Test(arguments: valid)
    func validForwardPath(path: String, localPart: String, domain: String) throws {
        let parsed = try #require(Self.parser.parse(Array(path.utf8), from: 0, kind: .forwardPath))
        #expect(parsed.address == MailAddress(localPart: localPart, domain: domain))
        #expect(parsed.end == path.utf8.count)
    }

    @Test(arguments: invalid)
    func invalidForwardPath(path: String) {
        #expect(Self.parser.parse(Array(path.utf8), from: 0, kind: .forwardPath) == nil)
    }

    @Test func nullPathOnlyAsReversePath() {
        #expect(Self.parser.parse(Array("<>".utf8), from: 0, kind: .reversePath) == .init(address: nil, end: 2))
        #expect(Self.parser.parse(Array("<>".utf8), from: 0, kind: .forwardPath) == nil)
        #expect(Self.parser.parse(Array("<postmaster>".utf8), from: 0, kind: .reversePath) == nil)
    }

    /// The contract with delivery (issue 19, D5): a bare `<postmaster>` in any case becomes
    /// `postmaster@<hostname>` with the host name exactly as configured, which `RecipientResolver(hostname:)`
    /// maps to the postmaster instead of refusing it as a relay.
    @Test(arguments: ["<postmaster>", "<POSTMASTER>", "<postMaster>"])
    func barePostmasterIsQualifiedWithTheHostName(path: String) throws {
        let parser = SMTPPathParser(postmasterDomain: "vm")
        let address = try #require(parser.parse(Array(path.utf8), from: 0, kind: .forwardPath)?.address)
        #expect(address.localPart.lowercased() == "postmaster")
        #expect(address.domain == "vm")
    }

    @Test func parsingStopsAfterTheClosingBracket() {
        let text = Array("<a@b.example> SIZE=1".utf8)
        #expect(Self.parser.parse(text, from: 0, kind: .reversePath)?.end == 13)
    }

    @Test func nonASCIIDetection() {
        #expect(SMTPPathParser.containsNonASCII(MailAddress(localPart: "jörg", domain: "x")))
        #expect(SMTPPathParser.containsNonASCII(MailAddress(localPart: "a", domain: "bü.example")))
        #expect(!SMTPPathParser.containsNonASCII(MailAddress(localPart: "a", domain: "b.example")))
    }

    /// Local parts whose `description` must parse back to the same address. The combining marks (U+07EB,
    /// U+0301) join the `\`, `"` or `.` before them into one Character; found by fuzz-smtp-parser
    /// (Tests/FuzzCorpus/crashes/fuzz-smtp-parser-backslash-combining).
    @Test(arguments: [
        "a", "a.b", "a b", "a\"b\\c", "", "jörg", "\\\u{07EB}", "\"\u{0301}", "a\\\u{0301}b",
        ".\u{0301}a", "a..\u{0301}b", "a.\u{0301}", "..", ".a", "a.",
    ])
    func descriptionParsesBack(localPart: String) throws {
        let address = MailAddress(localPart: localPart, domain: "b.example")
        let path = Array("<\(address)>".utf8)
        let parsed = try #require(Self.parser.parse(path, from: 0, kind: .forwardPath), "\(address)")
        #expect(parsed.address == address)
        #expect(parsed.end == path.count)
    }

    @Test func backslashBeforeACombiningMarkIsEscaped() {
        #expect(MailAddress(localPart: "\\\u{07EB}", domain: "b").description == "\"\\\\\u{07EB}\"@b")
    }

    @Test(arguments: [
        ("abc", "abc"), ("a+2Bb", "a+b"), ("+3D", "="), ("x+20y", "x y"), ("+c3+a9", "é"), ("", ""),
    ])
    func xtextDecodes(text: String, decoded: String) {
        #expect(SMTPXText.decode(Array(text.utf8)) == decoded)
    }

    @Test(arguments: ["a=b", "a+", "a+2", "a+zz", "a b", "+FF", "é"])
    func xtextRefuses(text: String) {
        #expect(SMTPXText.decode(Array(text.utf8)) == nil)
    }
}
