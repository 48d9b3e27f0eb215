// MXRoutingTests: RFC 5321 §5.1 selection — preference order, shuffled ties, implicit MX, null MX, lookup
// errors that defer, loop avoidance, and the five-address cap across IPv6 and IPv4.

import PostOfficeCore
import Testing
@testable import PostOfficeDNS

@Suite struct MXRoutingTests {
    static let domain = name("example.com")

    static func mx(_ pairs: [(UInt16, String)]) -> DNSLookupResult {
        let records = pairs.map { record("example.com", .mx(preference: $0.0, exchange: name($0.1))) }
        return .answer(DNSAnswer(canonicalName: domain, records: records, ttl: 300))
    }

    static func hosts(_ lookup: DNSLookupResult, local: [String] = [], seed: UInt64 = 1) -> Result<[String], MXRouting.Failure> {
        MXRouting.hosts(for: domain, mxLookup: lookup, localNames: Set(local.map(name)), random: SeededRandomSource(seed: seed))
            .map { $0.map(\.name.description) }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var lookup: DNSLookupResult
        var local: [String]
        var expected: Result<[String], MXRouting.Failure>
        init(_ label: String, _ lookup: DNSLookupResult, _ local: [String], _ expected: Result<[String], MXRouting.Failure>) {
            (self.label, self.lookup, self.local, self.expected) = (label, lookup, local, expected)
        }
        var testDescription: String { label }
    }

    static let table: [Case] = [
        Case("sorted by preference", mx([(20, "b.example"), (10, "a.example"), (30, "c.example")]), [],
            .success(["a.example", "b.example", "c.example"])),
        Case("implicit MX on NODATA", .noData(negativeTTL: 60), [], .success(["example.com"])),
        Case("null MX is permanent 5.1.10", mx([(0, ".")]), [],
            .failure(.init(status: EnhancedStatusCode(5, 1, 10), reason: "domain example.com accepts no mail (null MX)"))),
        Case("null MX among real ones is skipped", mx([(0, "."), (10, "a.example")]), [], .success(["a.example"])),
        Case("NXDOMAIN is permanent 5.1.2", .nameError(negativeTTL: 60), [],
            .failure(.init(status: EnhancedStatusCode(5, 1, 2), reason: "domain example.com does not exist"))),
        Case("lookup error defers, no A fallback", .temporaryFailure(.serverFailure), [],
            .failure(.init(status: EnhancedStatusCode(4, 4, 3), reason: "MX lookup for example.com failed: serverFailure"))),
        Case("drop ourselves and worse", mx([(10, "a.example"), (20, "ME.example"), (20, "b.example"), (30, "c.example")]),
            ["me.example"], .success(["a.example"])),
        Case("we are the best MX", mx([(10, "me.example"), (20, "b.example")]), ["me.example"],
            .failure(.init(status: EnhancedStatusCode(5, 4, 6), reason: "mail for example.com loops back to myself"))),
        Case("implicit MX is ourselves", .noData(negativeTTL: 0), ["example.com"],
            .failure(.init(status: EnhancedStatusCode(5, 4, 6), reason: "mail for example.com loops back to myself"))),
    ]

    @Test(arguments: table)
    func hostSelection(_ entry: Case) {
        #expect(Self.hosts(entry.lookup, local: entry.local) == entry.expected)
    }

    @Test func equalPreferencesAreShuffledButStayInTheirBand() {
        let lookup = Self.mx([(10, "a1.example"), (10, "a2.example"), (10, "a3.example"), (5, "first.example"), (20, "z.example")])
        var orders: Set<[String]> = []
        for seed: UInt64 in 1...40 {
            guard case .success(let names) = Self.hosts(lookup, seed: seed) else { Issue.record(); return }
            #expect(names.first == "first.example" && names.last == "z.example")
            #expect(Set(names[1...3]) == ["a1.example", "a2.example", "a3.example"])
            orders.insert(names)
        }
        #expect(orders.count > 1)
    }

    static func addressLookup(_ table: [String: [String]], failing: Set<String> = []) -> (DNSName, DNSRecordType) -> DNSLookupResult {
        { host, type in
            if failing.contains(host.description) { return .temporaryFailure(.timeout) }
            let key = "\(host) \(type)"
            guard let addresses = table[key] else { return .noData(negativeTTL: 60) }
            let records = addresses.map { text in
                record(host.description, text.contains(":") ? .aaaa(ip(text)) : .a(ip(text)))
            }
            return .answer(DNSAnswer(canonicalName: host, records: records, ttl: 60))
        }
    }

    static let hostList = ["a.example", "b.example", "c.example"].map { MXRouting.Host(name: name($0), preference: 10) }

    @Test func addressesIPv6ThenIPv4PerHostCappedAtFive() throws {
        var asked: [String] = []
        let lookup = Self.addressLookup([
            "a.example AAAA": ["2001:db8::a"], "a.example A": ["192.0.2.1", "192.0.2.2"],
            "b.example AAAA": ["2001:db8::b"], "b.example A": ["192.0.2.3", "192.0.2.4"],
            "c.example A": ["192.0.2.5"],
        ])
        let targets = try MXRouting.targets(for: Self.hostList) { host, type in
            asked.append("\(host) \(type)")
            return lookup(host, type)
        }.get()
        #expect(targets.map(\.address.description) == ["2001:db8::a", "192.0.2.1", "192.0.2.2", "2001:db8::b", "192.0.2.3"])
        #expect(targets[3].host == name("b.example"))
        #expect(!asked.contains("c.example AAAA"))
    }

    @Test func hostsWithoutAddressesAreSkipped() throws {
        let lookup = Self.addressLookup(["c.example A": ["192.0.2.5"]], failing: ["a.example"])
        #expect(try MXRouting.targets(for: Self.hostList, resolve: lookup).get().map(\.address) == [ip("192.0.2.5")])
    }

    @Test func noAddressDefersWhenALookupFailedElseBounces() {
        let failing = MXRouting.targets(for: Self.hostList, resolve: Self.addressLookup([:], failing: ["b.example"]))
        #expect((try? failing.get()) == nil)
        if case .failure(let failure) = failing { #expect(failure.status == EnhancedStatusCode(4, 4, 3)) }
        let empty = MXRouting.targets(for: Self.hostList, resolve: Self.addressLookup([:]))
        if case .failure(let failure) = empty { #expect(failure.status == EnhancedStatusCode(5, 4, 4)) } else { Issue.record() }
    }
}
