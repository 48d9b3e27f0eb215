// PolicyDNSResolver: answers the questions of the SPF, DMARC and DKIM engines with our own resolver
// (DNSTransport, blocking: run it on the storage pool, like MX lookups) within one deadline. Once the
// deadline has passed every further question is a temporary failure, so a slow DNS means temperror.

import PostOfficeDKIM
import PostOfficeDNS
import PostOfficeSPF

/// DNS for one authentication check, bounded in time.
struct PolicyDNSResolver {
    let transport: DNSTransport
    /// Monotonic milliseconds (``DNSTransport/monotonicMilliseconds()``) after which nothing more is asked.
    let deadline: Int

    init(transport: DNSTransport, timeoutSeconds: Int) {
        self.transport = transport
        deadline = DNSTransport.monotonicMilliseconds() + timeoutSeconds * 1000
    }

    /// An SPF or DMARC question ([RFC 7208 §4.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.4)).
    func answer(_ question: PolicyDNSQuestion) -> PolicyDNSAnswer {
        let type = Self.recordType(question.type)
        // A name the engines built that DNS cannot carry has no records.
        guard let name = try? DNSName(question.name) else { return .nxdomain }
        guard let result = lookup(name, type) else { return .temporaryFailure }
        return Self.policyAnswer(result, type: type)
    }

    /// The answer `answer(_:)` would give from `cache` alone (unexpired entries, as the transport reads them
    /// first); nil when the cache does not hold it, so the caller asks DNS instead.
    static func cachedAnswer(_ question: PolicyDNSQuestion, in cache: DNSCache) -> PolicyDNSAnswer? {
        let type = recordType(question.type)
        guard let name = try? DNSName(question.name) else { return .nxdomain }
        guard let result = cache.lookup(name, type) else { return nil }
        return policyAnswer(result, type: type)
    }

    private static func recordType(_ type: PolicyDNSQuestion.RecordType) -> DNSRecordType {
        switch type {
        case .txt: .txt
        case .a: .a
        case .aaaa: .aaaa
        case .mx: .mx
        case .ptr: .ptr
        }
    }

    /// The TXT record of a DKIM key ([RFC 6376 §3.6.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.6.2)).
    func key(_ query: DKIMKeyQuery) -> DKIMKeyAnswer {
        guard let name = try? DNSName(query.name) else { return .notFound }
        switch lookup(name, .txt) {
        case nil, .temporaryFailure?:
            return .temporaryFailure
        case .nameError?, .noData?:
            return .notFound
        case .answer(let answer)?:
            // More than one TXT record at a selector is the publisher's error; the first is used (§3.6.2.2).
            guard let text = answer.texts.first else { return .notFound }
            return .record(String(decoding: text, as: UTF8.self))
        }
    }

    /// Looks `name` up with at most the time left (each try's timeout shrunk to fit); nil past the deadline.
    private func lookup(_ name: DNSName, _ type: DNSRecordType) -> DNSLookupResult? {
        let remaining = deadline - DNSTransport.monotonicMilliseconds()
        guard remaining > 0 else { return nil }
        // The bounded transport reads the cache first too; reading it here spares building one per answer.
        if let cached = transport.cache?.lookup(name, type) { return cached }
        var configuration = transport.configuration
        let tries = max(1, configuration.servers.count * configuration.attempts)
        let perTry = max(DNSResolverConfiguration.timeoutRange.lowerBound, remaining / 1000 / tries)
        if perTry < configuration.timeoutSeconds {
            configuration = DNSResolverConfiguration(
                servers: configuration.servers, timeoutSeconds: perTry, attempts: configuration.attempts,
                ednsPayloadSize: configuration.ednsPayloadSize)
        }
        let bounded = DNSTransport(
            configuration: configuration, random: transport.random, cache: transport.cache, observer: transport.observer)
        return bounded.lookup(name, type)
    }

    /// The engines' view of a lookup result: the records of the type asked for, NODATA/NXDOMAIN kept apart
    /// (void lookups, RFC 7208 §4.6.4), REFUSED as the "other RCODE" failure.
    static func policyAnswer(_ result: DNSLookupResult, type: DNSRecordType) -> PolicyDNSAnswer {
        switch result {
        case .nameError: return .nxdomain
        case .noData: return .noData
        case .temporaryFailure(.refused): return .permanentFailure
        case .temporaryFailure: return .temporaryFailure
        case .answer(let answer):
            var records: [PolicyDNSAnswer.Record] = []
            for record in answer.records {
                switch record.data {
                case .txt(let strings) where type == .txt:
                    records.append(.txt(String(decoding: strings.flatMap { $0 }, as: UTF8.self)))
                case .a(let address) where type == .a:
                    if let parsed = SPFIPAddress(bytes: address.octets) { records.append(.a(parsed)) }
                case .aaaa(let address) where type == .aaaa:
                    if let parsed = SPFIPAddress(bytes: address.octets) { records.append(.aaaa(parsed)) }
                case .mx(let preference, let exchange) where type == .mx:
                    records.append(.mx(preference: Int(preference), exchange: Self.text(exchange)))
                case .ptr(let target) where type == .ptr:
                    records.append(.ptr(Self.text(target)))
                default:
                    continue  // CNAMEs on the way, and anything else
                }
            }
            return records.isEmpty ? .noData : .records(records)
        }
    }

    /// A name as the engines write it: no trailing dot.
    private static func text(_ name: DNSName) -> String {
        let text = name.description
        return text.hasSuffix(".") ? String(text.dropLast()) : text
    }
}
