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
        guard let suffixes = Self.suffixes(of: domain), let index = publicSuffixIndex(suffixes) else { return nil }
        return suffixes[index]
    }

    /// The public suffix plus one label (`www.example.co.uk` → `example.co.uk`); nil when `domain` is itself
    /// a public suffix or malformed.
    public func registrableDomain(of domain: String) -> String? {
        guard let suffixes = Self.suffixes(of: domain), let index = publicSuffixIndex(suffixes), index > 0 else { return nil }
        return suffixes[index - 1]
    }

    /// Which of `suffixes` (a name's, from ``suffixes(of:)``) is its public suffix; nil when an exception rule
    /// leaves none.
    private func publicSuffixIndex(_ suffixes: [String]) -> Int? {
        let count = suffixes.count
        // Exception rules win over everything; the public suffix is the rule minus its leftmost label.
        for start in 0..<count where exceptions.contains(suffixes[start]) {
            return start + 1 < count ? start + 1 : nil
        }
        // Otherwise the matching rule with the most labels; a wildcard matches one label in place of "*".
        for start in 0..<count {
            if rules.contains(suffixes[start]) || (start + 1 < count && wildcards.contains(suffixes[start + 1])) { return start }
        }
        return count - 1
    }

    /// The Organizational Domain ([RFC 7489 §3.2](https://www.rfc-editor.org/rfc/rfc7489#section-3.2)): the
    /// registrable domain, or the domain itself when it is a public suffix.
    public func organizationalDomain(of domain: String) -> String {
        registrableDomain(of: domain) ?? Self.normalized(domain)
    }

    static func normalized(_ domain: String) -> String {
        // Already lower-case ASCII without the root's dot (the usual case): nothing to copy.
        if domain.utf8.allSatisfy({ $0 < 0x80 && !($0 >= 0x41 && $0 <= 0x5A) }) && domain.utf8.last != UInt8(ascii: ".") {
            return domain
        }
        var name = domain.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }

    /// The normalized name from each label on (`a.b.c` → `a.b.c`, `b.c`, `c`); nil for a malformed name.
    /// An ASCII name (the usual case) is cut at its dots' byte offsets, with no array of labels to join.
    private static func suffixes(of domain: String) -> [String]? {
        let name = normalized(domain)
        guard !name.isEmpty, !name.hasPrefix(".") else { return nil }
        let utf8 = name.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else {
            let labels = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !labels.contains(where: \.isEmpty) else { return nil }
            return labels.indices.map { labels[$0...].joined(separator: ".") }
        }
        var suffixes = [name]
        var index = utf8.startIndex
        while let dot = utf8[index...].firstIndex(of: UInt8(ascii: ".")) {
            index = utf8.index(after: dot)
            // An empty label: two dots in a row, or a dot at the end.
            guard index != utf8.endIndex, utf8[index] != UInt8(ascii: ".") else { return nil }
            suffixes.append(String(name[index...]))
        }
        return suffixes
    }
}
