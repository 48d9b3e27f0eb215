// SPFEvaluation: RFC 7208 check_host() as a sans-I/O state machine. It asks for one DNS answer at a time
// (`step`) and continues when given it (`answer(_:)`); it never touches sockets or clocks.
// Internally each answer replays the evaluation from the start over the answers so far: check_host() is
// deterministic, so the replay asks the same questions in the same order, and the recursive algorithm
// (include, redirect) stays written as the RFC describes it. At most ~40 lookups make the replay cheap.

/// What an ``SPFEvaluation`` needs next: a DNS answer, or nothing because it has finished.
public enum SPFStep: Hashable, Sendable {
    case lookup(PolicyDNSQuestion)
    case finished(SPFOutcome)
}

/// An SPF check of one identity ([RFC 7208](https://www.rfc-editor.org/rfc/rfc7208)).
///
/// ```swift
/// var evaluation = SPFEvaluation(request)
/// while case .lookup(let question) = evaluation.step { evaluation.answer(resolve(question)) }
/// guard case .finished(let outcome) = evaluation.step else { fatalError() }
/// ```
public struct SPFEvaluation: Sendable {
    public let request: SPFRequest
    /// What the evaluation needs now.
    public private(set) var step: SPFStep
    private var answers: [PolicyDNSAnswer] = []
    /// Parsed records shared with other evaluations; nil parses every record here.
    private let records: PolicyRecordCache?

    /// Starts an evaluation; `records`, when given, supplies parsed SPF records by their text.
    public init(_ request: SPFRequest, records: PolicyRecordCache? = nil) {
        self.request = request
        self.records = records
        step = SPFRun(request: request, answers: [], records: records).run()
    }

    /// Supplies the answer to the question in ``step``. Ignored once the evaluation has finished.
    public mutating func answer(_ answer: PolicyDNSAnswer) {
        guard case .lookup = step else { return }
        answers.append(answer)
        step = SPFRun(request: request, answers: answers, records: records).run()
    }

    /// Runs a whole evaluation with a synchronous answerer (a cache, a test zone, a blocking resolver).
    public static func evaluate(
        _ request: SPFRequest, records: PolicyRecordCache? = nil, dns: (PolicyDNSQuestion) throws -> PolicyDNSAnswer
    ) rethrows -> SPFOutcome {
        var evaluation = SPFEvaluation(request, records: records)
        while case .lookup(let question) = evaluation.step { evaluation.answer(try dns(question)) }
        guard case .finished(let outcome) = evaluation.step else { preconditionFailure("SPF evaluation stopped without a result") }
        return outcome
    }
}

/// One replay of check_host() over a fixed list of answers.
private final class SPFRun {
    enum Stop: Error {
        case need(PolicyDNSQuestion)
        case temperror(String)
        case permerror(String)
    }

    struct Verdict {
        var result: SPFResult
        var mechanism: String?
        var explanation: String?
        var problem: String?
    }

    let request: SPFRequest
    let answers: [PolicyDNSAnswer]
    let records: PolicyRecordCache?
    var cursor = 0
    var terms = 0
    var voids = 0

    init(request: SPFRequest, answers: [PolicyDNSAnswer], records: PolicyRecordCache?) {
        self.request = request
        self.answers = answers
        self.records = records
    }

    func run() -> SPFStep {
        do throws(Stop) {
            let verdict = try checkHost(domain: request.domain, inInclude: false)
            return .finished(SPFOutcome(result: verdict.result, explanation: verdict.explanation, mechanism: verdict.mechanism,
                                        problem: verdict.problem, request: request))
        } catch {
            switch error {
            case .need(let question): return .lookup(question)
            case .temperror(let problem): return .finished(SPFOutcome(result: .temperror, problem: problem, request: request))
            case .permerror(let problem): return .finished(SPFOutcome(result: .permerror, problem: problem, request: request))
            }
        }
    }

    // MARK: DNS

    private func ask(_ type: PolicyDNSQuestion.RecordType, _ name: String) throws(Stop) -> PolicyDNSAnswer {
        guard cursor < answers.count else { throw .need(PolicyDNSQuestion(type, name)) }
        cursor += 1
        return answers[cursor - 1]
    }

    /// Counts a DNS-querying term against the limit of 10 (§4.6.4).
    private func countTerm() throws(Stop) {
        terms += 1
        if terms > request.lookupLimit { throw .permerror("more than \(request.lookupLimit) DNS-querying terms") }
    }

    /// Counts a lookup that returned NXDOMAIN or no records (§4.6.4).
    private func countVoid() throws(Stop) {
        voids += 1
        if voids > request.voidLookupLimit { throw .permerror("more than \(request.voidLookupLimit) void lookups") }
    }

    /// Addresses of the client's family for `name`; nil for a void answer. DNS failures are temperror.
    private func addresses(_ name: String) throws(Stop) -> [SPFIPAddress]? {
        // A target that cannot be a DNS name (empty or over-long label) is treated as non-existent, the
        // suite's preferred reading of a case RFC 7208 leaves undefined (by analogy to §4.3).
        guard Self.isValidDomain(name) else { return [] }
        switch try ask(request.clientAddress.isIPv4 ? .a : .aaaa, name) {
        case .records(let records): return records.compactMap(\.address)
        case .nxdomain, .noData: return nil
        case .temporaryFailure, .permanentFailure: throw .temperror("DNS failure looking up \(name)")
        }
    }

    // MARK: check_host()

    func checkHost(domain: String, inInclude: Bool) throws(Stop) -> Verdict {
        // §4.3: a malformed or single-label domain has no SPF record to find.
        guard Self.isValidDomain(domain) else { return Verdict(result: .none, problem: "malformed domain '\(domain)'") }
        let texts: [String]
        switch try ask(.txt, domain) {
        case .records(let records): texts = records.compactMap(\.text)
        case .nxdomain, .noData: return Verdict(result: .none, problem: "no SPF record for \(domain)")
        case .temporaryFailure, .permanentFailure: throw .temperror("DNS failure looking up TXT for \(domain)")
        }
        // §4.5: exactly one record starting "v=spf1"; other TXT records are none of our business.
        let candidates = texts.filter(SPFRecord.isSPF)
        guard let text = candidates.first else { return Verdict(result: .none, problem: "no SPF record for \(domain)") }
        guard candidates.count == 1 else { throw .permerror("more than one SPF record for \(domain)") }
        let parsed = records?.spfRecord(parsing: text)
            ?? Result { () throws(SPFRecord.SyntaxError) in try SPFRecord(parsing: text) }
        let record: SPFRecord
        switch parsed {
        case .success(let parsedRecord): record = parsedRecord
        case .failure(let error): throw .permerror("\(domain): \(error.reason)")
        }

        for directive in record.directives where try matches(directive.mechanism, domain: domain) {
            var verdict = Verdict(result: directive.qualifier, mechanism: directive.text)
            // An include's own fail never reaches the caller, so its exp= is never fetched (§6.2).
            if directive.qualifier == .fail && !inInclude { verdict.explanation = try explanation(record, domain: domain) }
            return verdict
        }
        // §6.1: redirect applies only when no mechanism matched, and is ignored next to "all".
        if let redirect = record.redirect, !record.directives.contains(where: { $0.mechanism == .all }) {
            try countTerm()
            let target = try expandDomain(redirect, domain: domain)
            let verdict = try checkHost(domain: target, inInclude: inInclude)
            if verdict.result == .none { throw .permerror("redirect to \(target), which has no SPF record") }
            return verdict
        }
        return Verdict(result: .neutral, mechanism: "default")
    }

    private func matches(_ mechanism: SPFRecord.Mechanism, domain: String) throws(Stop) -> Bool {
        let client = request.clientAddress
        switch mechanism {
        case .all:
            return true
        case .ip4(let network, let prefix), .ip6(let network, let prefix):
            return network.matches(client, prefixLength: prefix)
        case .a(let spec, let v4, let v6):
            try countTerm()
            let target = try spec.map { (spec) throws(Stop) in try expandDomain(spec, domain: domain) } ?? domain
            guard let found = try addresses(target) else { try countVoid(); return false }
            return found.contains { $0.matches(client, prefixLength: client.isIPv4 ? v4 : v6) }
        case .mx(let spec, let v4, let v6):
            try countTerm()
            let target = try spec.map { (spec) throws(Stop) in try expandDomain(spec, domain: domain) } ?? domain
            let exchanges: [String]
            guard Self.isValidDomain(target) else { return false }
            switch try ask(.mx, target) {
            case .records(let records): exchanges = records.compactMap(\.exchange)
            case .nxdomain, .noData: try countVoid(); return false
            case .temporaryFailure, .permanentFailure: throw .temperror("DNS failure looking up MX for \(target)")
            }
            // §4.6.4: more than 10 MX names to resolve is permerror.
            if exchanges.count > 10 { throw .permerror("more than 10 MX records for \(target)") }
            for exchange in exchanges where Self.isValidDomain(exchange) {
                if let found = try addresses(exchange), found.contains(where: { $0.matches(client, prefixLength: client.isIPv4 ? v4 : v6) }) {
                    return true
                }
            }
            return false
        case .ptr(let spec):
            try countTerm()
            let target = try spec.map { (spec) throws(Stop) in try expandDomain(spec, domain: domain) } ?? domain
            guard Self.isValidDomain(target) else { return false }
            return try validatedNames(within: target).contains { Self.isWithin($0, target) }
        case .exists(let spec):
            try countTerm()
            let target = try expandDomain(spec, domain: domain)
            // exists always asks for A records, whatever the client's family (§5.7).
            guard Self.isValidDomain(target) else { return false }
            switch try ask(.a, target) {
            case .records(let records): return records.contains { $0.address != nil }
            case .nxdomain, .noData: try countVoid(); return false
            case .temporaryFailure, .permanentFailure: throw .temperror("DNS failure looking up A for \(target)")
            }
        case .include(let spec):
            try countTerm()
            let target = try expandDomain(spec, domain: domain)
            let verdict = try checkHost(domain: target, inInclude: true)
            switch verdict.result {
            case .pass: return true
            case .fail, .softfail, .neutral: return false
            case .none: throw .permerror("include of \(target), which has no SPF record")
            case .temperror: throw .temperror(verdict.problem ?? "temperror in include")
            case .permerror: throw .permerror(verdict.problem ?? "permerror in include")
            }
        }
    }

    /// The client's PTR names whose forward lookup returns the client (§5.5), only those at or under
    /// `target` (others cannot match, so their lookups are saved). DNS errors skip a name, never fail the check.
    private func validatedNames(within target: String?, countsVoid: Bool = true) throws(Stop) -> [String] {
        let names: [String]
        switch try ask(.ptr, request.clientAddress.reverseLookupName) {
        case .records(let records): names = records.compactMap(\.pointer)
        case .nxdomain, .noData:
            if countsVoid { try countVoid() }
            return []
        case .temporaryFailure, .permanentFailure: return []
        }
        var validated: [String] = []
        // §4.6.4: only the first 10 PTR names are looked at.
        for name in names.prefix(10) where Self.isValidDomain(name) && (target.map { Self.isWithin(name, $0) } ?? true) {
            guard case .records(let records) = try ask(request.clientAddress.isIPv4 ? .a : .aaaa, name) else { continue }
            if records.contains(where: { $0.address == request.clientAddress }) { validated.append(name) }
        }
        return validated
    }

    // MARK: macros

    private func expandDomain(_ spec: SPFMacroString, domain: String) throws(Stop) -> String {
        var name = try expand(spec, domain: domain)
        if name.hasSuffix(".") { name.removeLast() }
        // §7.3: over 253 characters, drop labels from the left until it fits.
        while name.utf8.count > 253, let dot = name.firstIndex(of: ".") { name = String(name[name.index(after: dot)...]) }
        return name
    }

    private func expand(_ macro: SPFMacroString, domain: String) throws(Stop) -> String {
        try macro.expand { (letter) throws(Stop) -> String in
            switch letter {
            case "s": return request.sender
            case "l": return request.localPart
            case "o": return request.senderDomain
            case "d": return domain
            case "i": return request.clientAddress.macroForm
            case "p": return try validatedName(for: domain)
            case "h": return request.helo
            case "v": return request.clientAddress.isIPv4 ? "in-addr" : "ip6"
            case "c": return request.clientAddress.description
            case "r": return request.receiver ?? "unknown"
            case "t": return String(request.timestamp)
            default: return ""
            }
        }
    }

    /// `%{p}`: a validated name of the client, preferring `domain` itself, then a subdomain of it (§7.3).
    private func validatedName(for domain: String) throws(Stop) -> String {
        let names = try validatedNames(within: nil, countsVoid: false)
        return names.first { Self.isWithin($0, domain) && $0.count == domain.count }
            ?? names.first { Self.isWithin($0, domain) } ?? names.first ?? "unknown"
    }

    private func explanation(_ record: SPFRecord, domain: String) throws(Stop) -> String? {
        guard let spec = record.explanation else { return request.defaultExplanation }
        let target = try expandDomain(spec, domain: domain)
        // §6.2: any DNS error, no record, several records or bad syntax: as if there were no exp=.
        guard Self.isValidDomain(target), case .records(let records) = try ask(.txt, target) else { return request.defaultExplanation }
        let texts = records.compactMap(\.text)
        guard texts.count == 1, let text = texts.first, let macro = try? SPFMacroString(parsing: text, explanation: true) else {
            return request.defaultExplanation
        }
        return try expand(macro, domain: domain)
    }

    // MARK: names

    /// §4.3: labels of 1–63 characters, at least two of them, at most 253 characters, no domain literal.
    static func isValidDomain(_ domain: String) -> Bool {
        // ASCII names (nearly all) byte by byte, as the Character-based check below reads them: in ASCII
        // every Character is one byte but CR LF, and neither is a dot or a bracket.
        var ascii = true
        var length = 0
        var dots = 0
        var labelLength = 0
        var first: UInt8 = 0
        var last: UInt8 = 0
        for byte in domain.utf8 {
            if byte >= 0x80 {
                ascii = false
                break
            }
            if length == 0 { first = byte }
            last = byte
            length += 1
        }
        if ascii {
            let end = last == UInt8(ascii: ".") ? length - 1 : length
            guard end <= 253, first != UInt8(ascii: "[") || end == 0 else { return false }
            var index = 0
            for byte in domain.utf8 where index < end {
                index += 1
                if byte == UInt8(ascii: ".") {
                    guard labelLength > 0, labelLength <= 63 else { return false }
                    dots += 1
                    labelLength = 0
                } else {
                    labelLength += 1
                }
            }
            return labelLength > 0 && labelLength <= 63 && dots >= 1
        }
        var name = Substring(domain)
        if name.hasSuffix(".") { name.removeLast() }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return name.utf8.count <= 253 && labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && $0.utf8.count <= 63 }
            && !name.hasPrefix("[")
    }

    /// True when `name` is `domain` or a subdomain of it (case-insensitive, trailing dots ignored).
    static func isWithin(_ name: String, _ domain: String) -> Bool {
        let name = name.lowercased().trimmingTrailingDot
        let domain = domain.lowercased().trimmingTrailingDot
        return name == domain || name.hasSuffix("." + domain)
    }
}

extension String {
    fileprivate var trimmingTrailingDot: String { hasSuffix(".") ? String(dropLast()) : self }
}

extension PolicyDNSAnswer.Record {
    var address: SPFIPAddress? {
        switch self {
        case .a(let address), .aaaa(let address): address
        default: nil
        }
    }

    var text: String? {
        if case .txt(let text) = self { return text }
        return nil
    }

    var exchange: String? {
        if case .mx(_, let exchange) = self { return exchange }
        return nil
    }

    var pointer: String? {
        if case .ptr(let name) = self { return name }
        return nil
    }
}
