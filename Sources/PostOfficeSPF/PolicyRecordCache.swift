// PolicyRecordCache: parsed SPF and DMARC records shared by the evaluations of one server, keyed by the
// record text exactly as answered (its UTF-8 bytes). The TXT records are still fetched (or read from the DNS
// cache) for every message; only parsing them is skipped, and SPF's replaying evaluation parsed the same
// record again at every answer. Parsing is a pure function of the text, so a hit gives the same record (or
// the same syntax error) a parse would. Bounded, with clock (second-chance) eviction; thread-safe.

import PostOfficeCore

/// A bounded, thread-safe cache of parsed SPF ([RFC 7208 §4.6](https://www.rfc-editor.org/rfc/rfc7208#section-4.6))
/// and DMARC ([RFC 7489 §6.3](https://www.rfc-editor.org/rfc/rfc7489#section-6.3)) records.
///
/// Pass one to ``SPFEvaluation/evaluate(_:records:dns:)`` and ``DMARCEvaluation/evaluate(_:records:dns:)``;
/// a changed record is different text, hence a miss, so nothing is ever served stale.
public final class PolicyRecordCache: @unchecked Sendable {
    /// A record's text compared and hashed by its UTF-8 bytes (String's `==` would equate canonically
    /// equivalent texts, which the byte-wise parsers may read differently).
    struct Text: Hashable {
        var kind: UInt8
        var text: String

        static func == (left: Text, right: Text) -> Bool {
            left.kind == right.kind && left.text.utf8.elementsEqual(right.text.utf8)
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(kind)
            var text = text
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }

    enum Value {
        case spf(Result<SPFRecord, SPFRecord.SyntaxError>)
        case dmarc(Result<DMARCRecord, DMARCRecord.ParseError>)
    }

    private struct Slot {
        var key: Text
        var value: Value
        var referenced: Bool
    }

    /// Most records held (SPF and DMARC together).
    public let capacity: Int
    /// Longer texts are parsed every time, not kept, so the cache stays within `capacity` × this many bytes.
    public static let longestText = 2048

    private let lock = Lock()
    // All state below is guarded by `lock`.
    private var indices: [Text: Int] = [:]
    private var slots: [Slot] = []
    private var hand = 0
    private var hitCount = 0
    private var missCount = 0

    public init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    /// Records held now.
    public var count: Int { lock.withLock { slots.count } }

    /// Lookups answered from the cache and lookups that parsed, since creation.
    public var statistics: (hits: Int, misses: Int) { lock.withLock { (hitCount, missCount) } }

    /// `text` parsed as an SPF record (or its syntax error), from the cache or parsed now and kept.
    func spfRecord(parsing text: String) -> Result<SPFRecord, SPFRecord.SyntaxError> {
        let parse = { Result { () throws(SPFRecord.SyntaxError) in try SPFRecord(parsing: text) } }
        guard text.utf8.count <= Self.longestText else { return parse() }
        let key = Text(kind: 0, text: text)
        if case .spf(let cached)? = lookup(key) { return cached }
        let parsed = parse()
        store(.spf(parsed), for: key)
        return parsed
    }

    /// `text` parsed as a DMARC record (or why not), from the cache or parsed now and kept.
    public func dmarcRecord(parsing text: String) -> Result<DMARCRecord, DMARCRecord.ParseError> {
        let parse = { Result { () throws(DMARCRecord.ParseError) in try DMARCRecord(parsing: text) } }
        guard text.utf8.count <= Self.longestText else { return parse() }
        let key = Text(kind: 1, text: text)
        if case .dmarc(let cached)? = lookup(key) { return cached }
        let parsed = parse()
        store(.dmarc(parsed), for: key)
        return parsed
    }

    private func lookup(_ key: Text) -> Value? {
        lock.withLock {
            guard let index = indices[key] else {
                missCount += 1
                return nil
            }
            hitCount += 1
            slots[index].referenced = true
            return slots[index].value
        }
    }

    /// Adds or replaces; when full, the clock hand passes over recently used slots once, then takes one.
    private func store(_ value: Value, for key: Text) {
        lock.withLock {
            if let index = indices[key] {
                slots[index].value = value
                return
            }
            guard slots.count >= capacity else {
                indices[key] = slots.count
                slots.append(Slot(key: key, value: value, referenced: false))
                return
            }
            while slots[hand].referenced {
                slots[hand].referenced = false
                hand = (hand + 1) % slots.count
            }
            indices[slots[hand].key] = nil
            slots[hand] = Slot(key: key, value: value, referenced: false)
            indices[key] = hand
            hand = (hand + 1) % slots.count
        }
    }
}
