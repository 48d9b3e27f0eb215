// PublicSuffixListTests: the official checkPublicSuffix vectors (publicsuffix.org tests/test_psl.txt) against
// the real list in Resources, plus the rule kinds on a tiny hand-made list.

import Foundation
import PostOfficeSPF
import Testing

enum RealPublicSuffixList {
    static let list: PublicSuffixList? = {
        guard let url = Bundle.module.url(forResource: "public_suffix_list", withExtension: "dat", subdirectory: "Resources"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return nil }
        return PublicSuffixList(parsing: text)
    }()
}

@Suite struct PublicSuffixListTests {
    /// checkPublicSuffix(domain, registrable domain or nil), from the official test file.
    @Test(arguments: [
        ("COM", nil), ("example.COM", "example.com"), ("WwW.example.COM", "example.com"),
        (".com", nil), (".example", nil), (".example.com", nil), (".example.example", nil),
        ("example", nil), ("example.example", "example.example"), ("b.example.example", "example.example"),
        ("a.b.example.example", "example.example"),
        ("biz", nil), ("domain.biz", "domain.biz"), ("b.domain.biz", "domain.biz"), ("a.b.domain.biz", "domain.biz"),
        ("com", nil), ("example.com", "example.com"), ("b.example.com", "example.com"), ("a.b.example.com", "example.com"),
        ("uk.com", nil), ("example.uk.com", "example.uk.com"), ("b.example.uk.com", "example.uk.com"),
        ("a.b.example.uk.com", "example.uk.com"), ("test.ac", "test.ac"),
        ("mm", nil), ("c.mm", nil), ("b.c.mm", "b.c.mm"), ("a.b.c.mm", "b.c.mm"),
        ("jp", nil), ("test.jp", "test.jp"), ("www.test.jp", "test.jp"), ("ac.jp", nil), ("test.ac.jp", "test.ac.jp"),
        ("www.test.ac.jp", "test.ac.jp"), ("kyoto.jp", nil), ("test.kyoto.jp", "test.kyoto.jp"), ("ide.kyoto.jp", nil),
        ("b.ide.kyoto.jp", "b.ide.kyoto.jp"), ("a.b.ide.kyoto.jp", "b.ide.kyoto.jp"), ("c.kobe.jp", nil),
        ("b.c.kobe.jp", "b.c.kobe.jp"), ("a.b.c.kobe.jp", "b.c.kobe.jp"), ("city.kobe.jp", "city.kobe.jp"),
        ("www.city.kobe.jp", "city.kobe.jp"),
        ("ck", nil), ("test.ck", nil), ("b.test.ck", "b.test.ck"), ("a.b.test.ck", "b.test.ck"), ("www.ck", "www.ck"),
        ("www.www.ck", "www.ck"),
        ("us", nil), ("test.us", "test.us"), ("www.test.us", "test.us"), ("ak.us", nil), ("test.ak.us", "test.ak.us"),
        ("www.test.ak.us", "test.ak.us"), ("k12.ak.us", nil), ("test.k12.ak.us", "test.k12.ak.us"),
        ("www.test.k12.ak.us", "test.k12.ak.us"),
        ("食狮.com.cn", "食狮.com.cn"), ("食狮.公司.cn", "食狮.公司.cn"), ("www.食狮.公司.cn", "食狮.公司.cn"),
        ("shishi.公司.cn", "shishi.公司.cn"), ("公司.cn", nil), ("食狮.中国", "食狮.中国"), ("www.食狮.中国", "食狮.中国"),
        ("shishi.中国", "shishi.中国"), ("中国", nil),
        ("xn--85x722f.com.cn", "xn--85x722f.com.cn"), ("xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
        ("www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"), ("shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn"),
        ("xn--55qx5d.cn", nil), ("xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"),
        ("www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"), ("shishi.xn--fiqs8s", "shishi.xn--fiqs8s"), ("xn--fiqs8s", nil),
    ] as [(String, String?)])
    func checkPublicSuffix(_ domain: String, _ registrable: String?) throws {
        let list = try #require(RealPublicSuffixList.list)
        #expect(list.registrableDomain(of: domain) == registrable)
    }

    @Test(arguments: [
        ("www.example.co.uk", "co.uk", "example.co.uk"),
        ("a.b.c.mm", "c.mm", "b.c.mm"),
        ("www.ck", "ck", "www.ck"),
        ("x.y.nonexistent-tld", "nonexistent-tld", "y.nonexistent-tld"),
    ] as [(String, String, String)])
    func ruleKinds(_ domain: String, _ suffix: String, _ registrable: String) {
        let list = PublicSuffixList(parsing: "// comment\nuk\nco.uk\n\n*.mm\n*.ck\n!www.ck\n")
        #expect(list.publicSuffix(of: domain) == suffix)
        #expect(list.registrableDomain(of: domain) == registrable)
    }

    @Test func organizationalDomainOfAPublicSuffixIsItself() {
        let list = PublicSuffixList(rules: ["com"])
        #expect(list.organizationalDomain(of: "COM.") == "com")
        #expect(list.organizationalDomain(of: "mail.Example.com") == "example.com")
    }
}
