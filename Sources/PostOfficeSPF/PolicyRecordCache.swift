// PolicyRecordCache: parsed SPF and DMARC records shared by the evaluations of one server, keyed by the
// record text exactly as answered (its UTF-8 bytes). The TXT records are still fetched (or read from the DNS
// cache) for every message; only parsing them is skipped, and SPF's replaying evaluation parsed the same
// record again at every answer. Parsing is a pure function of the text, so a hit gives the same record (or
// the same syntax error) a parse would. Bounded, with clock (second-chance) eviction, thread-safe
// (SecondChanceCache).

import PostOfficeCore

/// A bounded, thread-safe cache of parsed SPF ([RFC 7208 §4.6](https://www.rfc-editor.org/rfc/rfc7208#section-4.6))
/// and DMARC ([RFC 7489 §6.3](https://www.rfc-editor.org/rfc/rfc7489#section-6.3)) records.
///
/// Pass one to ``SPFEvaluation/evaluate(_:records:dns:)`` and ``DMARCEvaluation/evaluate(_:records:dns:)``;
/// a changed record is different text, hence a miss, so nothing is ever served stale.
public final class PolicyRecordCache: @unchecked Sendable {
    /// A record's text (compared and hashed by its UTF-8 bytes) and which parser reads it.
    struct Text: Hashable {
        var kind: UInt8
        var text: ExactText
    }

    enum Value {
        case spf(Result<SPFRecord, SPFRecord.SyntaxError>)
        case dmarc(Result<DMARCRecord, DMARCRecord.ParseError>)
    }

    private let entries: SecondChanceCache<Text, Value>

    /// Most records held (SPF and DMARC together).
    public var capacity: Int { entries.capacity }
    /// Longer texts are parsed every time, not kept, so the cache stays within `capacity` × this many bytes.
    public static let longestText = 2048

    public init(capacity: Int = 1000) {
        entries = SecondChanceCache(capacity: capacity)
    }

    /// Records held now.
    public var count: Int { entries.count }

    /// Lookups answered from the cache and lookups that parsed, since creation.
    public var statistics: (hits: Int, misses: Int) { entries.statistics }

    /// `text` parsed as an SPF record (or its syntax error), from the cache or parsed now and kept.
    func spfRecord(parsing text: String) -> Result<SPFRecord, SPFRecord.SyntaxError> {
        let parse = { Result { () throws(SPFRecord.SyntaxError) in try SPFRecord(parsing: text) } }
        guard text.utf8.count <= Self.longestText else { return parse() }
        let key = Text(kind: 0, text: ExactText(text))
        if case .spf(let cached)? = entries.value(for: key) { return cached }
        let parsed = parse()
        entries.store(.spf(parsed), for: key)
        return parsed
    }

    /// `text` parsed as a DMARC record (or why not), from the cache or parsed now and kept.
    public func dmarcRecord(parsing text: String) -> Result<DMARCRecord, DMARCRecord.ParseError> {
        let parse = { Result { () throws(DMARCRecord.ParseError) in try DMARCRecord(parsing: text) } }
        guard text.utf8.count <= Self.longestText else { return parse() }
        let key = Text(kind: 1, text: ExactText(text))
        if case .dmarc(let cached)? = entries.value(for: key) { return cached }
        let parsed = parse()
        entries.store(.dmarc(parsed), for: key)
        return parsed
    }
}
