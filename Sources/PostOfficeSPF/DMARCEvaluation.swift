// DMARCEvaluation: RFC 7489 policy discovery (the From domain, then its Organizational Domain, §6.6.3),
// identifier alignment of the SPF and DKIM results (§3.1) and the disposition to apply (p/sp, pct, §6.6.4).
// Sans-I/O like SPFEvaluation: it asks for at most two TXT records; pct sampling takes the caller's number.

/// What a ``DMARCEvaluation`` needs next.
public enum DMARCStep: Hashable, Sendable {
    case lookup(PolicyDNSQuestion)
    case finished(DMARCOutcome)
}

/// A DMARC check ([RFC 7489](https://www.rfc-editor.org/rfc/rfc7489)), driven like ``SPFEvaluation``.
public struct DMARCEvaluation: Sendable {
    public let request: DMARCRequest
    public private(set) var step: DMARCStep
    private var answers: [PolicyDNSAnswer] = []
    /// The domains whose `_dmarc` records are asked for, in order (§6.6.3): the From domain, then its
    /// Organizational Domain when that differs; found once, not again at every answer.
    private let domains: [String]
    /// Parsed records shared with other evaluations; nil parses every record here.
    private let records: PolicyRecordCache?

    /// Starts an evaluation; `records`, when given, supplies parsed DMARC records by their text.
    public init(_ request: DMARCRequest, records: PolicyRecordCache? = nil) {
        self.request = request
        self.records = records
        let from = PublicSuffixList.normalized(request.fromDomain)
        let organizational = request.publicSuffixList.organizationalDomain(of: from)
        domains = organizational == from ? [from] : [from, organizational]
        step = Self.advance(request, domains: domains, answers: [], records: records)
    }

    /// Supplies the answer to the question in ``step``.
    public mutating func answer(_ answer: PolicyDNSAnswer) {
        guard case .lookup = step else { return }
        answers.append(answer)
        step = Self.advance(request, domains: domains, answers: answers, records: records)
    }

    /// The whole evaluation as a pure function of the request and the DNS answers.
    public static func evaluate(
        _ request: DMARCRequest, records: PolicyRecordCache? = nil, dns: (PolicyDNSQuestion) throws -> PolicyDNSAnswer
    ) rethrows -> DMARCOutcome {
        var evaluation = DMARCEvaluation(request, records: records)
        while case .lookup(let question) = evaluation.step { evaluation.answer(try dns(question)) }
        guard case .finished(let outcome) = evaluation.step else { preconditionFailure("DMARC evaluation stopped without a result") }
        return outcome
    }

    /// True when `identifier` is aligned with the From domain in `mode` (§3.1): the same name (strict), or the
    /// same Organizational Domain (relaxed).
    public static func isAligned(_ identifier: String, with fromDomain: String, mode: DMARCRecord.AlignmentMode, publicSuffixList: PublicSuffixList) -> Bool {
        let a = PublicSuffixList.normalized(identifier)
        let b = PublicSuffixList.normalized(fromDomain)
        switch mode {
        case .strict: return a == b
        case .relaxed: return a == b || publicSuffixList.organizationalDomain(of: a) == publicSuffixList.organizationalDomain(of: b)
        }
    }

    private static func advance(
        _ request: DMARCRequest, domains: [String], answers: [PolicyDNSAnswer], records: PolicyRecordCache?
    ) -> DMARCStep {
        var outcome = DMARCOutcome(result: .none, fromDomain: domains[0], disposition: .none, spfAligned: false, dkimAligned: false)
        // §6.6.3: the From domain first; only when it has no DMARC record, the Organizational Domain.
        for (index, domain) in domains.enumerated() {
            guard index < answers.count else { return .lookup(PolicyDNSQuestion(.txt, "_dmarc." + domain)) }
            let texts: [String]
            switch answers[index] {
            case .records(let records): texts = records.compactMap(\.text)
            case .nxdomain, .noData: texts = []
            case .temporaryFailure, .permanentFailure:
                outcome.result = .temperror
                return .finished(outcome)
            }
            let candidates: [Result<DMARCRecord, DMARCRecord.ParseError>] = texts.map { text in
                records?.dmarcRecord(parsing: text)
                    ?? Result { () throws(DMARCRecord.ParseError) in try DMARCRecord(parsing: text) }
            }.filter { if case .failure(.notDMARC) = $0 { false } else { true } }
            if candidates.isEmpty { continue }
            outcome.policyDomain = domain
            guard candidates.count == 1, case .success(let record) = candidates[0] else {
                outcome.result = .permerror
                return .finished(outcome)
            }
            return .finished(apply(record, at: domain, request: request, outcome: outcome))
        }
        return .finished(outcome)
    }

    private static func apply(_ record: DMARCRecord, at domain: String, request: DMARCRequest, outcome: DMARCOutcome) -> DMARCOutcome {
        var outcome = outcome
        let list = request.publicSuffixList
        outcome.record = record
        outcome.spfAligned = request.spfResult == .pass
            && isAligned(request.spfDomain, with: outcome.fromDomain, mode: record.spfAlignment, publicSuffixList: list)
        outcome.dkimAligned = request.dkimResults.contains {
            $0.passed && isAligned($0.domain, with: outcome.fromDomain, mode: record.dkimAlignment, publicSuffixList: list)
        }
        // sp= governs subdomains when the record came from the Organizational Domain (§6.3).
        let policy = domain == outcome.fromDomain ? record.policy : (record.subdomainPolicy ?? record.policy)
        outcome.requestedPolicy = policy
        if outcome.spfAligned || outcome.dkimAligned {
            outcome.result = .pass
            outcome.disposition = .none
            return outcome
        }
        outcome.result = .fail
        if request.sample < record.percentage {
            outcome.disposition = policy
        } else {
            // §6.6.4: messages outside pct= get the next policy down.
            outcome.disposition = policy == .reject ? .quarantine : .none
        }
        return outcome
    }
}
