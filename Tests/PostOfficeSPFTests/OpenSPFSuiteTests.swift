// OpenSPFSuiteTests: runs every case of the OpenSPF RFC 7208 test suite (Resources/rfc7208-tests.yml) through
// SPFEvaluation, answering DNS from each scenario's zonedata the way pyspf's testspf.py driver does.

import Foundation
import PostOfficeSPF
import Testing

/// One scenario's zone, with the driver's conventions: SPF-type records double as TXT unless the name has TXT
/// records of its own ("TXT: NONE" suppresses that); "TIMEOUT" times out every type not listed before it;
/// names absent from the zone are NXDOMAIN, except "error.*" names, which fail; labels over 63 octets fail.
struct SuiteZone {
    enum Entry {
        case record(type: String, value: YAMLNode)
        case timeout
    }

    var names: [String: [Entry]] = [:]

    init(_ node: YAMLNode?) {
        for (name, list) in node?.entries ?? [] {
            var entries: [Entry] = []
            var generated: [Entry] = []
            let hasTXT = list.items.contains { $0["TXT"] != nil }
            for item in list.items {
                if item.string == "TIMEOUT" { entries.append(.timeout); continue }
                for (type, value) in item.entries {
                    if type == "SPF" {
                        if !hasTXT { generated.append(.record(type: "TXT", value: value)) }
                        continue
                    }
                    if type == "TXT" && value.string == "NONE" { continue }
                    entries.append(.record(type: type, value: value))
                }
            }
            names[name.lowercased(), default: []] += entries + generated
        }
    }

    func answer(_ question: PolicyDNSQuestion) -> PolicyDNSAnswer {
        let labels = question.name.split(separator: ".")
        if labels.contains(where: { $0.utf8.count > 63 }) { return .temporaryFailure }
        return lookup(labels.joined(separator: ".").lowercased(), type: question.type.rawValue, followCNAME: true)
    }

    private func lookup(_ name: String, type: String, followCNAME: Bool) -> PolicyDNSAnswer {
        guard let entries = names[name] else { return name.hasPrefix("error.") ? .temporaryFailure : .nxdomain }
        var records: [PolicyDNSAnswer.Record] = []
        var seenType = false
        for entry in entries {
            guard case .record(let recordType, let value) = entry else {
                if !seenType { return .temporaryFailure }
                break
            }
            if recordType == type {
                seenType = true
                if value.string == "TIMEOUT" { return .temporaryFailure }
                if let record = Self.record(type: type, value: value) { records.append(record) }
            } else if recordType == "CNAME", followCNAME, let target = value.string {
                var target = target.lowercased()
                if target.hasSuffix(".") { target.removeLast() }
                if case .records(let more) = lookup(target, type: type, followCNAME: false) { records += more }
            }
        }
        return records.isEmpty ? .noData : .records(records)
    }

    private static func record(type: String, value: YAMLNode) -> PolicyDNSAnswer.Record? {
        switch type {
        case "TXT":
            if let text = value.string { return .txt(text) }
            return .txt(value.items.compactMap(\.string).joined())
        case "A":
            guard let text = value.string, let address = SPFIPAddress(text), address.isIPv4 else { return nil }
            return .a(address)
        case "AAAA":
            guard let text = value.string, let address = SPFIPAddress(text) else { return nil }
            // An IPv4-mapped AAAA record is still a 16-byte AAAA record.
            if address.isIPv4 { return SPFIPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + address.bytes).map { .aaaa($0) } }
            return .aaaa(address)
        case "MX":
            let parts = value.items.compactMap(\.string)
            guard parts.count == 2, let preference = Int(parts[0]) else { return nil }
            return .mx(preference: preference, exchange: parts[1])
        case "PTR":
            return value.string.map { .ptr($0) }
        default:
            return nil
        }
    }
}

struct SuiteCase: CustomTestStringConvertible, Sendable {
    var name: String
    var scenario: String
    var helo: String
    var host: String
    var mailFrom: String
    var results: [String]
    var explanation: String?
    var zone: Int

    var testDescription: String { name }
}

enum OpenSPFSuite {
    static let documents: [YAMLNode] = {
        guard let url = Bundle.module.url(forResource: "rfc7208-tests", withExtension: "yml", subdirectory: "Resources"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return [] }
        return YAMLSubsetReader.documents(text)
    }()

    static let zones: [SuiteZone] = documents.map { SuiteZone($0["zonedata"]) }

    static let cases: [SuiteCase] = documents.enumerated().flatMap { index, document in
        document["tests"]?.entries.map { name, test in
            let result = test["result"]
            return SuiteCase(
                name: name, scenario: document["description"]?.string ?? "", helo: test["helo"]?.string ?? "",
                host: test["host"]?.string ?? "", mailFrom: test["mailfrom"]?.string ?? "",
                results: result?.string.map { [$0] } ?? result?.items.compactMap(\.string) ?? [],
                explanation: test["explanation"]?.string, zone: index)
        } ?? []
    }

    static func run(_ test: SuiteCase, records: PolicyRecordCache? = nil) -> SPFOutcome? {
        guard let client = SPFIPAddress(test.host) else { return nil }
        let request = SPFRequest(mailFrom: test.mailFrom, helo: test.helo, clientAddress: client, defaultExplanation: "DEFAULT")
        return SPFEvaluation.evaluate(request, records: records) { zones[test.zone].answer($0) }
    }
}

@Suite struct OpenSPFSuiteTests {
    @Test func suiteIsLoaded() {
        // 16 scenarios in the 2014.04 release of the suite.
        #expect(OpenSPFSuite.documents.count == 16)
        #expect(OpenSPFSuite.cases.count > 150)
    }

    /// The whole suite in one number, for the report: every case must pass; cases whose result list puts
    /// another result first ("preferred") are counted separately.
    @Test func wholeSuite() {
        var passed = 0
        var preferred = 0
        for test in OpenSPFSuite.cases {
            guard let outcome = OpenSPFSuite.run(test), test.results.contains(outcome.result.rawValue),
                test.explanation == nil || test.explanation == outcome.explanation
            else { continue }
            passed += 1
            if test.results.first == outcome.result.rawValue { preferred += 1 }
        }
        print("OpenSPF rfc7208-tests.yml: \(passed)/\(OpenSPFSuite.cases.count) passed, \(preferred) with the preferred result")
        #expect(passed == OpenSPFSuite.cases.count)
    }

    /// Every case through one shared ``PolicyRecordCache``, twice (cold, then warm, with a small capacity so
    /// records are evicted and parsed again): each outcome is exactly the uncached one.
    @Test func wholeSuiteThroughARecordCache() {
        let records = PolicyRecordCache(capacity: 16)
        for _ in 0..<2 {
            for test in OpenSPFSuite.cases {
                #expect(OpenSPFSuite.run(test, records: records) == OpenSPFSuite.run(test), "\(test.name)")
            }
        }
        #expect(records.statistics.hits > 0)
        #expect(records.count <= 16)
    }

    @Test(arguments: OpenSPFSuite.cases)
    func rfc7208(_ test: SuiteCase) throws {
        let outcome = try #require(OpenSPFSuite.run(test))
        #expect(test.results.contains(outcome.result.rawValue), "\(test.name): got \(outcome.result) (\(outcome.problem ?? "-")), want \(test.results)")
        if let explanation = test.explanation {
            #expect(outcome.explanation == explanation, "\(test.name)")
        }
    }
}
