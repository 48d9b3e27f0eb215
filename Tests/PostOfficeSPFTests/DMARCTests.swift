// DMARCTests: record parsing (values, defaults, typed errors) and evaluation tables (discovery at the From
// domain then the Organizational Domain, relaxed/strict alignment, sp=, pct=, DNS failures).

import PostOfficeSPF
import Testing

@Suite struct DMARCRecordTests {
    @Test func parsesEveryTag() throws {
        let record = try DMARCRecord(parsing:
            "v=DMARC1; p=reject; sp=quarantine; pct=30; adkim=s; aspf=s; rua=mailto:a@example.com,mailto:b@example.com!10m; ruf=mailto:f@example.com; ri=3600; fo=1")
        #expect(record.policy == .reject)
        #expect(record.subdomainPolicy == .quarantine)
        #expect(record.percentage == 30)
        #expect(record.dkimAlignment == .strict && record.spfAlignment == .strict)
        #expect(record.aggregateReportURIs == ["mailto:a@example.com", "mailto:b@example.com!10m"])
        #expect(record.failureReportURIs == ["mailto:f@example.com"])
        #expect(record.reportInterval == 3600 && record.failureOptions == "1")
        #expect(record.problems.isEmpty)
    }

    @Test func defaults() throws {
        let record = try DMARCRecord(parsing: "v=DMARC1;p=none")
        #expect(record.subdomainPolicy == nil && record.percentage == 100)
        #expect(record.dkimAlignment == .relaxed && record.spfAlignment == .relaxed && record.reportInterval == 86400)
    }

    @Test(arguments: [
        ("v=DMARC1; p=quarantine; pct=150", "pct"),
        ("v=DMARC1; p=quarantine; adkim=x", "adkim"),
        ("v=DMARC1; p=quarantine; aspf=relaxed", "aspf"),
        ("v=DMARC1; p=quarantine; rua=example.com", "rua"),
    ])
    func badOptionalValuesFallBackToDefaults(_ text: String, _ tag: String) throws {
        let record = try DMARCRecord(parsing: text)
        #expect(record.policy == .quarantine && record.percentage == 100 && record.dkimAlignment == .relaxed)
        #expect(record.problems.map(\.tag) == [tag])
    }

    @Test(arguments: [
        ("v=spf1 -all", DMARCRecord.ParseError.notDMARC),
        ("p=reject; v=DMARC1", .notDMARC),
        ("v=dmarc1; p=reject", .notDMARC),
        ("", .notDMARC),
        ("v=DMARC1; p=reject; nonsense", .malformedTag("nonsense")),
        ("v=DMARC1", .missingPolicy),
        ("v=DMARC1; p=discard", .invalidPolicy("discard")),
        ("v=DMARC1; p=reject; sp=maybe", .invalidPolicy("maybe")),
    ])
    func errors(_ text: String, _ error: DMARCRecord.ParseError) {
        #expect(throws: error) { try DMARCRecord(parsing: text) }
    }

    @Test func invalidPolicyWithReportAddressActsAsNone() throws {
        // RFC 7489 §6.6.3 step 6.
        let record = try DMARCRecord(parsing: "v=DMARC1; p=bogus; rua=mailto:dmarc@example.com")
        #expect(record.policy == .none)
    }
}

@Suite struct DMARCEvaluationTests {
    static let list = PublicSuffixList(rules: ["com", "uk", "co.uk"])

    static let zone: [String: PolicyDNSAnswer] = [
        "_dmarc.example.com": .records([.txt("v=DMARC1; p=reject; sp=quarantine"), .txt("unrelated text")]),
        "_dmarc.strict.com": .records([.txt("v=DMARC1; p=reject; adkim=s; aspf=s")]),
        "_dmarc.sampled.com": .records([.txt("v=DMARC1; p=reject; pct=20")]),
        "_dmarc.own.example.com": .records([.txt("v=DMARC1; p=none")]),
        "_dmarc.twice.com": .records([.txt("v=DMARC1; p=none"), .txt("v=DMARC1; p=reject")]),
        "_dmarc.broken.com": .records([.txt("v=DMARC1; p=nonsense")]),
        "_dmarc.flaky.com": .temporaryFailure,
        "_dmarc.example.co.uk": .records([.txt("v=DMARC1; p=quarantine")]),
    ]

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var from: String
        var spf: SPFResult = .fail
        var spfDomain = "other.net"
        var dkim: [DMARCRequest.DKIMResult] = []
        var sample = 0
        var result: DMARCOutcome.Result
        var disposition: DMARCRecord.Policy = .none
        var policyDomain: String?
        var testDescription: String { name }
    }

    @Test(arguments: [
        Row(name: "spf aligned (relaxed, subdomain)", from: "example.com", spf: .pass, spfDomain: "bounce.example.com",
            result: .pass, policyDomain: "example.com"),
        Row(name: "dkim aligned", from: "example.com", dkim: [.init(domain: "EXAMPLE.com", passed: true)], result: .pass,
            policyDomain: "example.com"),
        Row(name: "dkim not passed", from: "example.com", dkim: [.init(domain: "example.com", passed: false)], result: .fail,
            disposition: .reject, policyDomain: "example.com"),
        Row(name: "spf pass but unaligned", from: "example.com", spf: .pass, spfDomain: "example.net", result: .fail,
            disposition: .reject, policyDomain: "example.com"),
        Row(name: "spf softfail does not count", from: "example.com", spf: .softfail, spfDomain: "example.com", result: .fail,
            disposition: .reject, policyDomain: "example.com"),
        Row(name: "subdomain uses sp= from org domain", from: "mail.example.com", result: .fail, disposition: .quarantine,
            policyDomain: "example.com"),
        Row(name: "subdomain with its own record uses its p=", from: "own.example.com", result: .fail, disposition: .none,
            policyDomain: "own.example.com"),
        Row(name: "strict spf: subdomain unaligned", from: "strict.com", spf: .pass, spfDomain: "mail.strict.com", result: .fail,
            disposition: .reject, policyDomain: "strict.com"),
        Row(name: "strict dkim: exact match", from: "strict.com", dkim: [.init(domain: "strict.com", passed: true)], result: .pass,
            policyDomain: "strict.com"),
        Row(name: "strict dkim: parent domain unaligned", from: "a.strict.com", dkim: [.init(domain: "strict.com", passed: true)],
            result: .fail, disposition: .reject, policyDomain: "strict.com"),
        Row(name: "pct sample inside", from: "sampled.com", sample: 19, result: .fail, disposition: .reject, policyDomain: "sampled.com"),
        Row(name: "pct sample outside lowers reject", from: "sampled.com", sample: 20, result: .fail, disposition: .quarantine,
            policyDomain: "sampled.com"),
        Row(name: "no record anywhere", from: "nothing.com", result: .none),
        Row(name: "two records", from: "twice.com", result: .permerror, policyDomain: "twice.com"),
        Row(name: "unusable record", from: "broken.com", result: .permerror, policyDomain: "broken.com"),
        Row(name: "dns failure", from: "flaky.com", result: .temperror),
        Row(name: "org domain under a two-label suffix", from: "www.example.co.uk", spf: .pass, spfDomain: "example.co.uk",
            result: .pass, policyDomain: "example.co.uk"),
    ])
    func evaluate(_ row: Row) {
        let request = DMARCRequest(fromDomain: row.from, spfResult: row.spf, spfDomain: row.spfDomain, dkimResults: row.dkim,
                                   publicSuffixList: Self.list, sample: row.sample)
        let outcome = DMARCEvaluation.evaluate(request) { Self.zone[$0.name] ?? .nxdomain }
        #expect(outcome.result == row.result)
        #expect(outcome.disposition == row.disposition)
        #expect(outcome.policyDomain == row.policyDomain)
    }

    @Test func asksFromDomainThenOrganizationalDomain() {
        let request = DMARCRequest(fromDomain: "a.b.example.com", spfResult: .none, spfDomain: "x.org", dkimResults: [],
                                   publicSuffixList: Self.list)
        var evaluation = DMARCEvaluation(request)
        #expect(evaluation.step == .lookup(PolicyDNSQuestion(.txt, "_dmarc.a.b.example.com")))
        evaluation.answer(.records([.txt("v=spf1 -all")]))
        #expect(evaluation.step == .lookup(PolicyDNSQuestion(.txt, "_dmarc.example.com")))
        evaluation.answer(.records([.txt("v=DMARC1; p=reject")]))
        guard case .finished(let outcome) = evaluation.step else { Issue.record("not finished"); return }
        #expect(outcome.authenticationResultsEntry == "dmarc=fail (p=reject dis=reject) header.from=a.b.example.com")
    }

    @Test(arguments: [
        ("mail.example.com", "example.com", DMARCRecord.AlignmentMode.relaxed, true),
        ("mail.example.com", "example.com", .strict, false),
        ("Example.COM.", "example.com", .strict, true),
        ("example.co.uk", "other.co.uk", .relaxed, false),
        ("a.example.co.uk", "b.example.co.uk", .relaxed, true),
    ])
    func alignment(_ identifier: String, _ from: String, _ mode: DMARCRecord.AlignmentMode, _ aligned: Bool) {
        #expect(DMARCEvaluation.isAligned(identifier, with: from, mode: mode, publicSuffixList: Self.list) == aligned)
    }
}
