// MicroBenchmarks+SPF: what SPF and DMARC cost per inbound message once DNS is answered (issue 16): an SPF
// check through an include (three TXT records and the replaying evaluation) and a DMARC evaluation, answered
// from memory, with the server's PolicyRecordCache and with every record parsed per message.

import PostOfficeSPF

extension MicroBenchmarks {
    /// An SPF check of a MAIL FROM whose record includes another; counts the passes.
    func spfCheck(cached: Bool, _ sink: inout UInt64) -> RepeatedMeasurement {
        let records = cached ? PolicyRecordCache() : nil
        let zone: [String: String] = [
            "example.net": "v=spf1 ip4:192.0.2.0/24 include:_spf.example.org ip6:2001:db8::/32 ~all",
            "_spf.example.org": "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/24 a:mail.example.org -all",
            "mail.example.org": "",
        ]
        let client = SPFIPAddress("203.0.113.9")!
        let checks = count(20_000)
        var measurement = RepeatedMeasurement(
            name: "SPF check via include" + (cached ? ", record cache" : ", records parsed per message"),
            unit: "checks/s", workPerRun: Double(checks))
        measurement.measure(sink: &sink) {
            var passed: UInt64 = 0
            for _ in 0..<checks {
                let request = SPFRequest(mailFrom: "sender@example.net", helo: "mx.example.net", clientAddress: client,
                                         receiver: "mx.test", timestamp: 1_800_000_000)
                let outcome = SPFEvaluation.evaluate(request, records: records) { question in
                    guard question.type == .txt, let text = zone[question.name] else { return .nxdomain }
                    return .records([.txt(text)])
                }
                if outcome.result == .pass { passed += 1 }
            }
            return passed
        }
        return measurement
    }

    /// A DMARC evaluation of a subdomain From (two `_dmarc` lookups, the second with the record).
    func dmarcEvaluation(cached: Bool, _ sink: inout UInt64) -> RepeatedMeasurement {
        let records = cached ? PolicyRecordCache() : nil
        let list = PublicSuffixList(rules: ["com", "net", "org"])
        let text = "v=DMARC1; p=reject; sp=quarantine; adkim=r; aspf=r; pct=100; rua=mailto:dmarc@example.com; fo=1"
        let evaluations = count(20_000)
        var measurement = RepeatedMeasurement(
            name: "DMARC evaluation" + (cached ? ", record cache" : ", record parsed per message"),
            unit: "evaluations/s", workPerRun: Double(evaluations))
        measurement.measure(sink: &sink) {
            var passed: UInt64 = 0
            for _ in 0..<evaluations {
                let request = DMARCRequest(
                    fromDomain: "news.example.com", spfResult: .pass, spfDomain: "bounce.example.com", dkimResults: [],
                    publicSuffixList: list, sample: 50)
                let outcome = DMARCEvaluation.evaluate(request, records: records) { question in
                    question.name == "_dmarc.example.com" ? .records([.txt(text)]) : .nxdomain
                }
                if outcome.result == .pass { passed += 1 }
            }
            return passed
        }
        return measurement
    }
}
