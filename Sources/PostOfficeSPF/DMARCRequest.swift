// DMARCRequest: what DMARC evaluation is given: the From domain, the SPF and DKIM results to align with it,
// the Public Suffix List, and the caller's pct= sample (the engine draws no random numbers itself).

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
