// SPFEvaluationTests: the RFC 7208 §7.4 macro examples (seen as the names the engine asks for), the
// step-by-step protocol, limits, IPv4-mapped clients, and the Received-SPF / Authentication-Results text.

import PostOfficeSPF
import Testing

@Suite struct SPFEvaluationTests {
    /// The name an `exists:` term with `macro` asks for, for strong-bad@email.example.com (RFC 7208 §7.4).
    /// ".x.test" is appended (and taken off again) because single-label names are never looked up.
    static func expansion(_ macro: String, client: String = "192.0.2.3") -> String? {
        let request = SPFRequest(mailFrom: "strong-bad@email.example.com", helo: "mx.example.org", clientAddress: SPFIPAddress(client)!)
        var evaluation = SPFEvaluation(request)
        guard evaluation.step == .lookup(PolicyDNSQuestion(.txt, "email.example.com")) else { return nil }
        evaluation.answer(.records([.txt("v=spf1 exists:\(macro).x.test -all")]))
        guard case .lookup(let question) = evaluation.step, question.type == .a, question.name.hasSuffix(".x.test") else { return nil }
        return String(question.name.dropLast(7))
    }

    @Test(arguments: [
        ("%{s}", "strong-bad@email.example.com"), ("%{o}", "email.example.com"), ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"), ("%{d3}", "email.example.com"), ("%{d2}", "example.com"), ("%{d1}", "com"),
        ("%{dr}", "com.example.email"), ("%{d2r}", "example.email"), ("%{l}", "strong-bad"), ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"), ("%{lr-}", "bad.strong"), ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        ("%{h}.%%%_%-.%{L}", "mx.example.org.% %20.strong-bad"),
        ("%{S}.x.example", "strong-bad%40email.example.com.x.example"),
    ])
    func rfcMacroExamples(_ macro: String, _ expected: String) {
        #expect(Self.expansion(macro) == expected)
    }

    @Test func ipv6MacroExample() {
        // §7.4 writes the nibbles in lower case; DNS names compare case-insensitively (see SPFIPAddress.macroForm).
        #expect(Self.expansion("%{ir}.%{v}._spf.%{d2}", client: "2001:db8::cb01")?.lowercased()
                == "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")
    }

    /// A whole evaluation against a small zone.
    static func check(_ record: String, client: String, mailFrom: String = "user@example.com", zone: [PolicyDNSQuestion: PolicyDNSAnswer] = [:])
        -> SPFOutcome
    {
        let request = SPFRequest(mailFrom: mailFrom, helo: "mail.example.org", clientAddress: SPFIPAddress(client)!, receiver: "mx.test",
                                 timestamp: 1_700_000_000, defaultExplanation: "not allowed")
        return SPFEvaluation.evaluate(request) { question in
            if question == PolicyDNSQuestion(.txt, "example.com") { return .records([.txt(record)]) }
            return zone[question] ?? .nxdomain
        }
    }

    @Test(arguments: [
        ("v=spf1 ip4:192.0.2.0/24 -all", "192.0.2.77", SPFResult.pass),
        ("v=spf1 ip4:192.0.2.0/24 -all", "::ffff:192.0.2.77", .pass),
        ("v=spf1 ip4:192.0.2.0/24 -all", "192.0.3.1", .fail),
        ("v=spf1 ip6:2001:db8::/32 ~all", "2001:db8:1::1", .pass),
        ("v=spf1 ip6:2001:db8::/32 ~all", "2001:db9::1", .softfail),
        ("v=spf1 ip4:192.0.2.1 ?all", "192.0.2.2", .neutral),
        ("v=spf1 ip4:192.0.2.1", "192.0.2.2", .neutral),
        ("v=spf1 ip4:192.0.2.1/33 -all", "192.0.2.1", .permerror),
        ("v=spf1 -all -all exp=a.example.com exp=b.example.com", "192.0.2.1", .permerror),
        ("v=spf1 foo:bar -all", "192.0.2.1", .permerror),
        ("v=spf1 x-unknown=%{d} -all", "192.0.2.1", .fail),
        ("v=spf1 a mx a mx a mx a mx a mx a -all", "192.0.2.1", .permerror),
    ])
    func table(_ record: String, _ client: String, _ result: SPFResult) {
        #expect(Self.check(record, client: client).result == result)
    }

    @Test func voidLookupLimit() {
        // Each "a:" target is NXDOMAIN: the third void lookup is permerror (§4.6.4).
        #expect(Self.check("v=spf1 a:n1.example.com a:n2.example.com -all", client: "192.0.2.1").result == .fail)
        #expect(Self.check("v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com -all", client: "192.0.2.1").result == .permerror)
    }

    @Test func mxAndPtr() {
        let zone: [PolicyDNSQuestion: PolicyDNSAnswer] = [
            PolicyDNSQuestion(.mx, "example.com"): .records([.mx(preference: 10, exchange: "mx.example.com")]),
            PolicyDNSQuestion(.a, "mx.example.com"): .records([.a(SPFIPAddress("192.0.2.10")!)]),
            PolicyDNSQuestion(.ptr, "20.2.0.192.in-addr.arpa"): .records([.ptr("host.example.com"), .ptr("evil.example.net")]),
            PolicyDNSQuestion(.a, "host.example.com"): .records([.a(SPFIPAddress("192.0.2.20")!)]),
        ]
        #expect(Self.check("v=spf1 mx/30 -all", client: "192.0.2.9", zone: zone).result == .pass)
        #expect(Self.check("v=spf1 mx -all", client: "192.0.2.9", zone: zone).result == .fail)
        #expect(Self.check("v=spf1 ptr -all", client: "192.0.2.20", zone: zone).result == .pass)
        #expect(Self.check("v=spf1 ptr:example.net -all", client: "192.0.2.20", zone: zone).result == .fail)
    }

    @Test func temperrorFromDNS() {
        let zone: [PolicyDNSQuestion: PolicyDNSAnswer] = [PolicyDNSQuestion(.a, "down.example.com"): .temporaryFailure]
        let outcome = Self.check("v=spf1 a:down.example.com -all", client: "192.0.2.1", zone: zone)
        #expect(outcome.result == .temperror)
        #expect(outcome.receivedSPFHeader().hasPrefix("Received-SPF: temperror (mx.test: error in processing during lookup of example.com)"))
    }

    @Test func explanationForFail() {
        let zone: [PolicyDNSQuestion: PolicyDNSAnswer] = [
            PolicyDNSQuestion(.txt, "why.example.com"): .records([.txt("%{c} may not send for %{d} (%{r} at %{t})")]),
        ]
        let outcome = Self.check("v=spf1 -all exp=why.%{d}", client: "2001:db8::1", zone: zone)
        #expect(outcome.result == .fail)
        #expect(outcome.explanation == "2001:db8::1 may not send for example.com (mx.test at 1700000000)")
        #expect(Self.check("v=spf1 -all", client: "192.0.2.1").explanation == "not allowed")
        #expect(Self.check("v=spf1 +all", client: "192.0.2.1").explanation == nil)
    }

    @Test func headers() {
        let pass = Self.check("v=spf1 ip4:192.0.2.0/24 -all", client: "192.0.2.5")
        #expect(pass.authenticationResultsEntry == "spf=pass smtp.mailfrom=user@example.com")
        #expect(pass.receivedSPFHeader() == "Received-SPF: pass (mx.test: domain of user@example.com designates 192.0.2.5 as permitted sender) "
                + "client-ip=192.0.2.5; envelope-from=\"user@example.com\"; helo=mail.example.org; receiver=mx.test; identity=mailfrom; "
                + "mechanism=\"ip4:192.0.2.0/24\";")
        let broken = Self.check("v=spf1 bogus", client: "192.0.2.5")
        #expect(broken.receivedSPFHeader(receiver: "r.test").contains("problem=\"example.com: unknown mechanism 'bogus'\"; receiver=r.test;"))
    }

    @Test func nullReversePathChecksHelo() {
        let request = SPFRequest(mailFrom: "", helo: "mail.example.org", clientAddress: SPFIPAddress("192.0.2.1")!)
        #expect(request.identity == .helo && request.domain == "mail.example.org" && request.sender == "postmaster@mail.example.org")
        let outcome = SPFEvaluation.evaluate(request) { _ in .records([.txt("v=spf1 -all")]) }
        #expect(outcome.authenticationResultsEntry == "spf=fail smtp.helo=mail.example.org")
        #expect(SPFRequest(mailFrom: "@example.net", helo: "h.example", clientAddress: SPFIPAddress("192.0.2.1")!).sender == "postmaster@example.net")
    }

    @Test(arguments: [
        ("2001:DB8:0:0:0:0:2:1", "2001:db8::2:1"), ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"), ("::1", "::1"), ("::", "::"), ("::ffff:10.0.0.1", "10.0.0.1"),
        ("1.2.3.4", "1.2.3.4"),
    ])
    func addressText(_ input: String, _ canonical: String) {
        #expect(SPFIPAddress(input)?.description == canonical)
    }

    @Test(arguments: [
        "1.2.3", "01.2.3.4", "256.1.1.1", "1:2:3:4:5:6:7:8:9", "1::2::3", "fffff::1", "", "1.2.3.4.", ".1.2.3.4", "1..2.3",
        "1.2.3.4.5", "1.2.3.0004", "1.2.3.00", "1.2.3.+4", "1.2.3.４", "1.2.3.4 ", "1.2.3.1000", "::ffff:1.2.3.04",
    ])
    func invalidAddresses(_ input: String) {
        #expect(SPFIPAddress(input) == nil)
    }

    @Test(arguments: [("0.0.0.0", [0, 0, 0, 0]), ("255.255.255.255", [255, 255, 255, 255]), ("10.0.200.9", [10, 0, 200, 9])])
    func ipv4Bytes(_ input: String, _ bytes: [UInt8]) {
        #expect(SPFIPAddress(input)?.bytes == bytes)
    }

    /// The Authentication-Results property value: the address as it is when local-part and domain are
    /// dot-atoms, else a quoted-string (RFC 8601 pvalue, RFC 5322 §3.2.3).
    @Test(arguments: [
        ("user@example.com", "user@example.com"), ("a.b+c@example.com", "a.b+c@example.com"),
        ("a..b@example.com", "\"a..b@example.com\""), (".a@example.com", "\".a@example.com\""),
        ("a.@example.com", "\"a.@example.com\""), ("a b@example.com", "\"a b@example.com\""),
        ("é@example.com", "\"@example.com\""), ("e\u{301}x@example.com", "\"x@example.com\""),
        ("a\"b@example.com", "\"a\\\"b@example.com\""), ("{~}|#@example.com", "{~}|#@example.com"),
    ] as [(String, String)])
    func mailFromValue(_ sender: String, _ value: String) {
        let request = SPFRequest(mailFrom: sender, helo: "mail.example.org", clientAddress: SPFIPAddress("192.0.2.1")!)
        let outcome = SPFOutcome(result: .pass, request: request)
        #expect(outcome.authenticationResultsEntry == "spf=pass smtp.mailfrom=" + value)
    }

    @Test(arguments: [
        ("mail.example.org", "mail.example.org"), ("mail..example.org", "\"mail..example.org\""), ("[192.0.2.1]", "\"[192.0.2.1]\""),
        ("", "\"\""), ("host.", "\"host.\""),
    ] as [(String, String)])
    func heloValue(_ helo: String, _ value: String) {
        let request = SPFRequest(mailFrom: "", helo: helo, clientAddress: SPFIPAddress("192.0.2.1")!)
        let outcome = SPFOutcome(result: .none, request: request)
        #expect(outcome.authenticationResultsEntry == "spf=none smtp.helo=" + value)
    }
}
