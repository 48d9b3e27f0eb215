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
    /// Answers converted from the transport's DNS cache, shared by the server's checks; nil converts every time.
    let answers: PolicyAnswerCache?

    init(transport: DNSTransport, timeoutSeconds: Int, answers: PolicyAnswerCache? = nil) {
        self.transport = transport
        deadline = DNSTransport.monotonicMilliseconds() + timeoutSeconds * 1000
        self.answers = answers
    }

    /// An SPF or DMARC question ([RFC 7208 §4.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.4)).
    func answer(_ question: PolicyDNSQuestion) -> PolicyDNSAnswer {
        // A converted answer is there only for a name DNS can carry; past the deadline, as any lookup, nothing.
        if let known = knownAnswer(question) { return isPastDeadline ? .temporaryFailure : known }
        let type = Self.recordType(question.type)
        // A name the engines built that DNS cannot carry has no records.
        guard let name = try? DNSName(question.name) else { return .nxdomain }
        if !isPastDeadline, let converted = convertCached(question, name, type) { return converted }
        guard let result = lookup(name, type) else { return .temporaryFailure }
        return Self.policyAnswer(result, type: type)
    }

    /// The answer `answer(_:)` would give from `cache` alone (unexpired entries, as the transport reads them
    /// first); nil when the cache does not hold it, so the caller asks DNS instead. `answers`, when given,
    /// keeps the converted answer until the cache entry's expiry.
    static func cachedAnswer(_ question: PolicyDNSQuestion, in cache: DNSCache, answers: PolicyAnswerCache? = nil) -> PolicyDNSAnswer? {
        if let answers, let known = answers.answer(for: question, now: cache.now()) { return known }
        let type = recordType(question.type)
        guard let name = try? DNSName(question.name) else { return .nxdomain }
        guard let answers else {
            guard let result = cache.lookup(name, type) else { return nil }
            return policyAnswer(result, type: type)
        }
        guard let (result, expires) = cache.lookupWithExpiry(name, type) else { return nil }
        let converted = policyAnswer(result, type: type)
        answers.store(converted, for: question, expires: expires)
        return converted
    }

    private var isPastDeadline: Bool { deadline - DNSTransport.monotonicMilliseconds() <= 0 }

    /// The converted answer kept for `question`, while its DNS cache entry lasts.
    private func knownAnswer(_ question: PolicyDNSQuestion) -> PolicyDNSAnswer? {
        guard let answers, let cache = transport.cache else { return nil }
        return answers.answer(for: question, now: cache.now())
    }

    /// `question` answered from the DNS cache and the conversion kept; nil when the cache does not hold it.
    private func convertCached(_ question: PolicyDNSQuestion, _ name: DNSName, _ type: DNSRecordType) -> PolicyDNSAnswer? {
        guard let answers, let cache = transport.cache, let (result, expires) = cache.lookupWithExpiry(name, type) else { return nil }
        let converted = Self.policyAnswer(result, type: type)
        answers.store(converted, for: question, expires: expires)
        return converted
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
        let question = PolicyDNSQuestion(.txt, query.name)
        if let known = knownAnswer(question) { return isPastDeadline ? .temporaryFailure : Self.keyAnswer(known) }
        guard let name = try? DNSName(query.name) else { return .notFound }
        if !isPastDeadline, let converted = convertCached(question, name, .txt) { return Self.keyAnswer(converted) }
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

    /// A TXT answer as the key query's: the first TXT record's text (every string of it joined), as
    /// `key(_:)` reads a DNS answer. Converted answers hold no temporary failures (the DNS cache keeps none).
    static func keyAnswer(_ answer: PolicyDNSAnswer) -> DKIMKeyAnswer {
        switch answer {
        case .records(let records):
            guard case .txt(let text)? = records.first else { return .notFound }
            return .record(text)
        case .noData, .nxdomain:
            return .notFound
        case .temporaryFailure, .permanentFailure:
            return .temporaryFailure
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
