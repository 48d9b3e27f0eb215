// DMARCEvaluation: RFC 7489 policy discovery (the From domain, then its Organizational Domain, §6.6.3),
// identifier alignment of the SPF and DKIM results (§3.1) and the disposition to apply (p/sp, pct, §6.6.4).
// Sans-I/O like SPFEvaluation: it asks for at most two TXT records; pct sampling takes the caller's number.

/// The inputs of a DMARC evaluation: the authenticated identifiers and their results.
public struct DMARCRequest: Sendable {
    /// One DKIM signature's verification result (`d=` and whether it verified).
    public struct DKIMResult: Hashable, Sendable {
        public var domain: String
        public var passed: Bool

        public init(domain: String, passed: Bool) {
            self.domain = domain
            self.passed = passed
        }
    }

    /// The RFC 5322.From domain.
    public var fromDomain: String
    /// The SPF result for the MAIL FROM identity (or HELO when MAIL FROM was empty).
    public var spfResult: SPFResult
    /// The domain SPF checked.
    public var spfDomain: String
    public var dkimResults: [DKIMResult]
    public var publicSuffixList: PublicSuffixList
    /// A number in 0..<100 drawn by the caller: the policy applies when it is below `pct` (§6.6.4).
    public var sample: Int

    public init(
        fromDomain: String, spfResult: SPFResult, spfDomain: String, dkimResults: [DKIMResult], publicSuffixList: PublicSuffixList,
        sample: Int = 0
    ) {
        self.fromDomain = fromDomain
        self.spfResult = spfResult
        self.spfDomain = spfDomain
        self.dkimResults = dkimResults
        self.publicSuffixList = publicSuffixList
        self.sample = sample
    }
}

/// The result of a DMARC evaluation ([RFC 7489 §6.6](https://www.rfc-editor.org/rfc/rfc7489#section-6.6)).
public struct DMARCOutcome: Hashable, Sendable {
    /// The `dmarc=` result values ([RFC 7489 §11.2](https://www.rfc-editor.org/rfc/rfc7489#section-11.2)).
    public enum Result: String, Hashable, Sendable {
        /// No DMARC record: DMARC does not apply.
        case none
        case pass
        case fail
        /// A DNS failure during policy discovery.
        case temperror
        /// More than one record, or a record that cannot be used.
        case permerror
    }

    public var result: Result
    public var fromDomain: String
    /// Where the policy record was found: the From domain or its Organizational Domain.
    public var policyDomain: String?
    public var record: DMARCRecord?
    /// The policy the domain owner asked for this message (p=, or sp= for a subdomain); nil without a record.
    public var requestedPolicy: DMARCRecord.Policy?
    /// What to do with the message: `.none` unless it failed, the requested policy lowered one step when
    /// the pct= sample excluded it.
    public var disposition: DMARCRecord.Policy
    public var spfAligned: Bool
    public var dkimAligned: Bool

    /// The Authentication-Results method-spec, e.g. `dmarc=fail (p=reject dis=quarantine) header.from=example.com`
    /// ([RFC 7489 §11.2](https://www.rfc-editor.org/rfc/rfc7489#section-11.2), [RFC 8601](https://www.rfc-editor.org/rfc/rfc8601)).
    public var authenticationResultsEntry: String {
        var entry = "dmarc=\(result.rawValue)"
        if let requestedPolicy { entry += " (p=\(requestedPolicy.rawValue) dis=\(disposition.rawValue))" }
        return entry + " header.from=\(SPFOutcome.value(fromDomain))"
    }
}

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

    public init(_ request: DMARCRequest) {
        self.request = request
        step = Self.advance(request, answers: [])
    }

    /// Supplies the answer to the question in ``step``.
    public mutating func answer(_ answer: PolicyDNSAnswer) {
        guard case .lookup = step else { return }
        answers.append(answer)
        step = Self.advance(request, answers: answers)
    }

    /// The whole evaluation as a pure function of the request and the DNS answers.
    public static func evaluate(_ request: DMARCRequest, dns: (PolicyDNSQuestion) throws -> PolicyDNSAnswer) rethrows -> DMARCOutcome {
        var evaluation = DMARCEvaluation(request)
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

    private static func advance(_ request: DMARCRequest, answers: [PolicyDNSAnswer]) -> DMARCStep {
        let from = PublicSuffixList.normalized(request.fromDomain)
        let organizational = request.publicSuffixList.organizationalDomain(of: from)
        var outcome = DMARCOutcome(result: .none, fromDomain: from, disposition: .none, spfAligned: false, dkimAligned: false)
        // §6.6.3: the From domain first; only when it has no DMARC record, the Organizational Domain.
        let domains = organizational == from ? [from] : [from, organizational]
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
                Result { () throws(DMARCRecord.ParseError) in try DMARCRecord(parsing: text) }
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
