// DMARCOutcome: a finished DMARC evaluation: the dmarc= result, where the policy came from, which
// identifiers aligned, and the disposition to apply; it renders its Authentication-Results entry (RFC 8601).

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
        var entry = "dmarc=" + result.rawValue
        entry.reserveCapacity(64 + fromDomain.utf8.count)
        if let requestedPolicy {
            entry += " (p="
            entry += requestedPolicy.rawValue
            entry += " dis="
            entry += disposition.rawValue
            entry += ")"
        }
        entry += " header.from="
        entry += SPFOutcome.value(fromDomain)
        return entry
    }
}
