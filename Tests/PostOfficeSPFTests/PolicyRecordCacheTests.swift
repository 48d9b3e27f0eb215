// PolicyRecordCacheTests: parsed SPF and DMARC records kept by their text give the outcome a fresh parse gives
// (cold and warm, syntax errors included), a different text is a different record, and the cache stays bounded.

import PostOfficeSPF
import Testing

@Suite struct PolicyRecordCacheTests {
    static func spf(_ record: String, client: String, records: PolicyRecordCache?) -> SPFOutcome {
        let request = SPFRequest(mailFrom: "user@example.com", helo: "mail.example.org", clientAddress: SPFIPAddress(client)!,
                                 receiver: "mx.test", timestamp: 1_700_000_000, defaultExplanation: "not allowed")
        return SPFEvaluation.evaluate(request, records: records) { question in
            switch question {
            case PolicyDNSQuestion(.txt, "example.com"): .records([.txt(record)])
            case PolicyDNSQuestion(.txt, "_spf.example.net"): .records([.txt("v=spf1 ip4:198.51.100.0/24 -all")])
            case PolicyDNSQuestion(.txt, "exp.example.com"): .records([.txt("%{i} is not one of %{d}'s")])
            default: .nxdomain
            }
        }
    }

    @Test(arguments: [
        ("v=spf1 ip4:192.0.2.0/24 -all", "192.0.2.7", SPFResult.pass),
        ("v=spf1 ip4:192.0.2.0/24 -all", "192.0.3.7", .fail),
        ("v=spf1 include:_spf.example.net -all", "198.51.100.9", .pass),
        ("v=spf1 include:_spf.example.net ~all", "203.0.113.1", .softfail),
        ("v=spf1 ip4:192.0.2.1 -all exp=exp.example.com", "192.0.2.2", .fail),
        ("v=spf1 ip4:192.0.2.0/33 -all", "192.0.2.7", .permerror),
        ("v=spf1 bogus:thing -all", "192.0.2.7", .permerror),
        ("v=spf1 redirect=_spf.example.net", "198.51.100.1", .pass),
    ])
    func spfOutcomeIsTheSameColdAndWarm(_ record: String, _ client: String, _ expected: SPFResult) {
        let records = PolicyRecordCache(capacity: 8)
        let uncached = Self.spf(record, client: client, records: nil)
        let cold = Self.spf(record, client: client, records: records)
        let afterCold = records.statistics
        let warm = Self.spf(record, client: client, records: records)
        #expect(uncached.result == expected)
        #expect(cold == uncached)
        #expect(warm == uncached)
        #expect(afterCold.misses >= 1)
        // The warm run parses nothing: every lookup it makes is a hit.
        #expect(records.statistics.misses == afterCold.misses)
        #expect(records.statistics.hits > afterCold.hits)
    }

    @Test func differentTextIsADifferentRecord() {
        let records = PolicyRecordCache(capacity: 8)
        #expect(Self.spf("v=spf1 ip4:192.0.2.0/24 -all", client: "192.0.2.7", records: records).result == .pass)
        #expect(Self.spf("v=spf1 ip4:198.51.100.0/24 -all", client: "192.0.2.7", records: records).result == .fail)
        #expect(Self.spf("v=spf1 ip4:192.0.2.0/24 -all", client: "192.0.2.7", records: records).result == .pass)
        #expect(Self.spf("v=spf1 ip4:192.0.2.0/24 ?all", client: "192.0.3.7", records: records).result == .neutral)
        #expect(records.count == 3)
    }

    static func dmarc(_ text: String, records: PolicyRecordCache?) -> DMARCOutcome {
        let request = DMARCRequest(fromDomain: "mail.example.com", spfResult: .fail, spfDomain: "other.net", dkimResults: [],
                                   publicSuffixList: PublicSuffixList(rules: ["com"]), sample: 50)
        return DMARCEvaluation.evaluate(request, records: records) { question in
            question.name == "_dmarc.example.com" ? .records([.txt(text)]) : .nxdomain
        }
    }

    @Test(arguments: [
        ("v=DMARC1; p=reject", DMARCOutcome.Result.fail, DMARCRecord.Policy.reject),
        ("v=DMARC1; p=reject; sp=none", .fail, .none),
        ("v=DMARC1; p=reject; pct=40", .fail, .quarantine),
        ("v=DMARC1; p=nonsense", .permerror, .none),
        ("not a dmarc record", .none, .none),
    ])
    func dmarcOutcomeIsTheSameColdAndWarm(_ text: String, _ result: DMARCOutcome.Result, _ disposition: DMARCRecord.Policy) {
        let records = PolicyRecordCache(capacity: 8)
        let uncached = Self.dmarc(text, records: nil)
        let cold = Self.dmarc(text, records: records)
        let warm = Self.dmarc(text, records: records)
        #expect(uncached.result == result)
        #expect(uncached.disposition == disposition)
        #expect(cold == uncached)
        #expect(warm == uncached)
        #expect(records.statistics.hits == 1)
        #expect(records.statistics.misses == 1)
    }

    @Test func evictsWhenFull() {
        let records = PolicyRecordCache(capacity: 2)
        let texts = ["v=DMARC1; p=none", "v=DMARC1; p=quarantine", "v=DMARC1; p=reject"]
        for text in texts { _ = records.dmarcRecord(parsing: text) }
        #expect(records.count == 2)
        #expect(records.statistics == (hits: 0, misses: 3))
        // The newest stays; one of the older two was taken, and asking for it again parses it again, correctly.
        #expect((try? records.dmarcRecord(parsing: texts[2]).get())?.policy == .reject)
        #expect(records.statistics.hits == 1)
        for text in texts { _ = records.dmarcRecord(parsing: text) }
        #expect(records.count == 2)
        #expect(records.statistics.misses >= 4)
        #expect((try? records.dmarcRecord(parsing: texts[0]).get())?.policy == DMARCRecord.Policy.none)
    }

    @Test func longTextIsParsedButNotKept() {
        let records = PolicyRecordCache(capacity: 4)
        let text = "v=DMARC1; p=reject; rua=mailto:" + String(repeating: "a", count: PolicyRecordCache.longestText) + "@example.com"
        #expect((try? records.dmarcRecord(parsing: text).get()) == (try? DMARCRecord(parsing: text)))
        #expect(records.count == 0)
    }
}

/// §4.3's domain check (now read byte by byte for ASCII names), seen from outside: a malformed MAIL FROM
/// domain is `none` without a lookup, a well-formed one is asked for.
@Suite struct SPFDomainValidityTests {
    static let long63 = String(repeating: "a", count: 63)
    /// 4 × 63-character labels with dots: 255 characters.
    static let tooLong = Array(repeating: long63, count: 4).joined(separator: ".")
    /// 253 characters: 3 × 63 + 61 and three dots.
    static let longest = Array(repeating: long63, count: 3).joined(separator: ".") + "." + String(repeating: "b", count: 61)

    @Test(arguments: [
        ("example.com", true), ("example.com.", true), ("a.b", true), ("example", false), ("example.", false),
        (".example.com", false), ("example..com", false), ("example.com..", false), (".", false), ("[192.0.2.1]", false),
        ("[a.b", false), ("a.[b", true), ("\(long63).com", true), ("\(long63)a.com", false), (longest, true),
        (longest + ".", true), (longest + "b", false), (tooLong, false), ("b\u{FC}cher.example", true),
        ("b\u{FC}cher", false), ("\u{E9}.\u{301}", false), ("ex ample.com", true), ("a.\r\n", true),
    ])
    func malformedDomainsAreNone(_ domain: String, _ valid: Bool) {
        let request = SPFRequest(mailFrom: "user@" + domain, helo: "mail.example.org", clientAddress: SPFIPAddress("192.0.2.1")!)
        let evaluation = SPFEvaluation(request)
        if valid {
            #expect(evaluation.step == .lookup(PolicyDNSQuestion(.txt, domain)))
        } else {
            guard case .finished(let outcome) = evaluation.step else {
                Issue.record("\(domain) was looked up")
                return
            }
            #expect(outcome.result == .none)
            #expect(outcome.problem == "malformed domain '\(domain)'")
        }
    }
}
