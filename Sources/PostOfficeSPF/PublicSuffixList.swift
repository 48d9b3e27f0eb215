// PublicSuffixList: the publicsuffix.org rules (normal, wildcard "*.", exception "!") and the standard
// algorithm, which DMARC uses to find a domain's Organizational Domain (RFC 7489 §3.2). The engine takes the
// list as input; the runtime reads it (Debian: /usr/share/publicsuffix/public_suffix_list.dat) and passes the text.

/// A parsed Public Suffix List ([publicsuffix.org/list](https://publicsuffix.org/list/)).
///
/// Rules are kept in their Unicode and their A-label (`xn--`) forms, so both spellings of a domain match.
public struct PublicSuffixList: Sendable {
    private var rules: Set<String> = []
    /// "*.kobe.jp" is stored as "kobe.jp".
    private var wildcards: Set<String> = []
    /// "!city.kobe.jp" is stored as "city.kobe.jp".
    private var exceptions: Set<String> = []

    /// Parses the `public_suffix_list.dat` format: one rule per line, the rule being the line's first
    /// whitespace-free run; blank lines and `//` comments are ignored.
    public init(parsing text: String) {
        self.init(rules: text.split(whereSeparator: \.isNewline).compactMap { line in
            guard let rule = line.split(whereSeparator: \.isWhitespace).first, !rule.hasPrefix("//") else { return nil }
            return String(rule)
        })
    }

    /// Builds the list from rules such as `com`, `*.mm`, `!www.ck`.
    public init(rules: [String]) {
        for rule in rules {
            var text = Substring(rule.lowercased())
            let isException = text.hasPrefix("!")
            if isException { text = text.dropFirst() }
            let isWildcard = text.hasPrefix("*.")
            if isWildcard { text = text.dropFirst(2) }
            for form in Set([String(text), Punycode.asciiDomain(String(text))]) {
                if isException { exceptions.insert(form) } else if isWildcard { wildcards.insert(form) } else { self.rules.insert(form) }
            }
        }
    }

    /// The public suffix of `domain` under the prevailing rule ("*" when none matches), or nil for a
    /// malformed name (empty, leading dot, empty label).
    public func publicSuffix(of domain: String) -> String? {
        guard let labels = Self.labels(domain) else { return nil }
        let count = labels.count
        func suffix(_ start: Int) -> String { labels[start...].joined(separator: ".") }
        // Exception rules win over everything; the public suffix is the rule minus its leftmost label.
        for start in 0..<count where exceptions.contains(suffix(start)) {
            return start + 1 < count ? suffix(start + 1) : nil
        }
        // Otherwise the matching rule with the most labels; a wildcard matches one label in place of "*".
        for start in 0..<count {
            if rules.contains(suffix(start)) || (start + 1 < count && wildcards.contains(suffix(start + 1))) { return suffix(start) }
        }
        return labels[count - 1]
    }

    /// The public suffix plus one label (`www.example.co.uk` → `example.co.uk`); nil when `domain` is itself
    /// a public suffix or malformed.
    public func registrableDomain(of domain: String) -> String? {
        guard let labels = Self.labels(domain), let suffix = publicSuffix(of: domain) else { return nil }
        let suffixCount = suffix.split(separator: ".").count
        guard labels.count > suffixCount else { return nil }
        return labels.suffix(suffixCount + 1).joined(separator: ".")
    }

    /// The Organizational Domain ([RFC 7489 §3.2](https://www.rfc-editor.org/rfc/rfc7489#section-3.2)): the
    /// registrable domain, or the domain itself when it is a public suffix.
    public func organizationalDomain(of domain: String) -> String {
        registrableDomain(of: domain) ?? Self.normalized(domain)
    }

    static func normalized(_ domain: String) -> String {
        var name = domain.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }

    private static func labels(_ domain: String) -> [String]? {
        let name = normalized(domain)
        guard !name.isEmpty, !name.hasPrefix(".") else { return nil }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return labels.contains(where: \.isEmpty) ? nil : labels
    }
}
