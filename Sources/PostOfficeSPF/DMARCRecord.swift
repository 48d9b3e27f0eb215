// DMARCRecord: a "v=DMARC1" policy record (RFC 7489 §6.3) parsed into typed fields. Errors that make the
// record unusable throw; bad values of optional tags fall back to their defaults, as §6.3 asks, and are listed.

/// A parsed DMARC policy record ([RFC 7489 §6.3](https://www.rfc-editor.org/rfc/rfc7489#section-6.3)).
public struct DMARCRecord: Hashable, Sendable {
    /// A requested handling policy (`p=`, `sp=`).
    public enum Policy: String, Hashable, Sendable {
        case none, quarantine, reject
    }

    /// Identifier alignment mode (`adkim=`, `aspf=`, [RFC 7489 §3.1](https://www.rfc-editor.org/rfc/rfc7489#section-3.1)).
    public enum AlignmentMode: String, Hashable, Sendable {
        case relaxed = "r", strict = "s"
    }

    /// Why a record cannot be used.
    public enum ParseError: Error, Hashable, Sendable {
        /// The first tag is not `v=DMARC1`: not a DMARC record at all (§6.6.3 step 2 discards it).
        case notDMARC
        /// A tag is not `name=value`.
        case malformedTag(String)
        /// `p=` is missing and there is no valid `rua=` to fall back to p=none with (§6.6.3 step 6).
        case missingPolicy
        /// `p=` or `sp=` has an unknown value and there is no valid `rua=`.
        case invalidPolicy(String)
    }

    /// A tag whose bad value was replaced by the default (§6.3).
    public struct Problem: Hashable, Sendable {
        public var tag: String
        public var value: String
    }

    public var policy: Policy
    /// `sp=`: the policy for subdomains of the Organizational Domain; nil means "as `policy`".
    public var subdomainPolicy: Policy?
    /// `pct=`: the percentage of failing messages the policy applies to, 0–100 (default 100).
    public var percentage = 100
    public var dkimAlignment = AlignmentMode.relaxed
    public var spfAlignment = AlignmentMode.relaxed
    /// `rua=`: aggregate report URIs (any `!size` suffix kept).
    public var aggregateReportURIs: [String] = []
    /// `ruf=`: failure report URIs.
    public var failureReportURIs: [String] = []
    /// `ri=`: requested aggregate report interval in seconds (default 86400).
    public var reportInterval = 86400
    /// `fo=`: failure reporting options, as written (default "0").
    public var failureOptions = "0"
    /// Tags whose values were ignored.
    public var problems: [Problem] = []

    /// Parses a TXT record's text.
    public init(parsing text: String) throws(ParseError) {
        var tags: [(String, String)] = []
        for part in text.split(separator: ";", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingWhitespace
            if trimmed.isEmpty && !tags.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                // Other TXT records at _dmarc are not errors, just not DMARC (§6.6.3 step 2).
                if tags.isEmpty { throw .notDMARC }
                throw .malformedTag(String(trimmed))
            }
            tags.append((trimmed[..<equals].trimmingWhitespace.lowercased(), String(trimmed[trimmed.index(after: equals)...].trimmingWhitespace)))
            // "v" must come first, and its value is case-sensitive "DMARC1" (§6.4 ABNF).
            if tags.count == 1 && (tags[0].0 != "v" || tags[0].1 != "DMARC1") { throw .notDMARC }
        }
        guard !tags.isEmpty else { throw .notDMARC }

        var policyText: String?
        var subdomainText: String?
        policy = .none
        for (name, value) in tags.dropFirst() {
            switch name {
            case "p": policyText = value
            case "sp": subdomainText = value
            case "pct":
                if let number = Int(value), (0...100).contains(number), value.allSatisfy(\.isNumber) { percentage = number } else { problems.append(Problem(tag: name, value: value)) }
            case "adkim", "aspf":
                if let mode = AlignmentMode(rawValue: value.lowercased()) {
                    if name == "adkim" { dkimAlignment = mode } else { spfAlignment = mode }
                } else {
                    problems.append(Problem(tag: name, value: value))
                }
            case "rua", "ruf":
                let uris = value.split(separator: ",").map { String($0.trimmingWhitespace) }.filter(Self.isReportURI)
                if uris.isEmpty { problems.append(Problem(tag: name, value: value)) }
                if name == "rua" { aggregateReportURIs = uris } else { failureReportURIs = uris }
            case "ri":
                if let seconds = Int(value), seconds >= 0 { reportInterval = seconds } else { problems.append(Problem(tag: name, value: value)) }
            case "fo":
                failureOptions = value
            default:
                break  // rf= and unknown tags are ignored (§6.3).
            }
        }
        // §6.6.3 step 6: without a valid p= (or with a bad sp=), a valid rua= means "act as p=none".
        let parsedPolicy = policyText.flatMap { Policy(rawValue: $0.lowercased()) }
        let parsedSubdomain = subdomainText.flatMap { Policy(rawValue: $0.lowercased()) }
        if let parsedPolicy, subdomainText == nil || parsedSubdomain != nil {
            policy = parsedPolicy
            subdomainPolicy = parsedSubdomain
        } else if !aggregateReportURIs.isEmpty {
            policy = .none
            subdomainPolicy = nil
        } else if let policyText, parsedPolicy == nil {
            throw .invalidPolicy(policyText)
        } else if let subdomainText {
            throw .invalidPolicy(subdomainText)
        } else {
            throw .missingPolicy
        }
    }

    /// A URI with a scheme (`mailto:…`), optionally followed by `!size`.
    private static func isReportURI(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return false }
        return text[..<colon].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) } && text[colon...].count > 1
    }
}

extension Substring {
    fileprivate var trimmingWhitespace: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
