// DNSCache: lookup results kept for their TTL (negative ones for the SOA-derived TTL, RFC 2308), read
// against an injected clock, bounded in size. Thread-safe: the storage pool's threads share one.

import PostOfficeCore

/// A bounded cache of lookup results keyed by (name ignoring case, type).
///
/// TTLs are capped (a day for records, three hours for negative answers, as RFC 2308 §5 advises);
/// temporary failures and zero TTLs are not stored. When full, expired entries go first, then the
/// entry closest to expiry.
public final class DNSCache: @unchecked Sendable {
    private struct Key: Hashable {
        var name: DNSName
        var type: DNSRecordType
    }

    private struct Entry {
        var result: DNSLookupResult
        var expires: MailTime
    }

    public let capacity: Int
    public static let maxTTL: UInt32 = 86400
    public static let maxNegativeTTL: UInt32 = 10800

    private let clock: any MailClock
    private let lock = Lock()
    private var entries: [Key: Entry] = [:]

    public init(capacity: Int = 1000, clock: any MailClock) {
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    /// The cached result, while it has not expired.
    public func lookup(_ name: DNSName, _ type: DNSRecordType) -> DNSLookupResult? {
        lookupWithExpiry(name, type)?.result
    }

    /// ``lookup(_:_:)`` with the time the result expires, for caches of what callers derive from it.
    public func lookupWithExpiry(_ name: DNSName, _ type: DNSRecordType) -> (result: DNSLookupResult, expires: MailTime)? {
        let key = Key(name: name.lowercased(), type: type)
        let now = clock.now()
        return lock.withLock {
            guard let entry = entries[key] else { return nil }
            guard now < entry.expires else {
                entries[key] = nil
                return nil
            }
            return (entry.result, entry.expires)
        }
    }

    /// The time on the cache's clock, against which ``lookupWithExpiry(_:_:)``'s expiry is read.
    public func now() -> MailTime { clock.now() }

    /// Stores `result` for its TTL (capped); ignores temporary failures and TTL 0.
    public func store(_ result: DNSLookupResult, for name: DNSName, _ type: DNSRecordType) {
        let ttl: UInt32
        switch result {
        case .answer(let answer): ttl = min(answer.ttl, Self.maxTTL)
        case .nameError(let negative), .noData(let negative): ttl = min(negative, Self.maxNegativeTTL)
        case .temporaryFailure: return
        }
        guard ttl > 0 else { return }
        var expires = clock.now()
        expires.seconds += Int(ttl)
        let key = Key(name: name.lowercased(), type: type)
        lock.withLock {
            if entries[key] == nil && entries.count >= capacity { evict(now: clock.now()) }
            entries[key] = Entry(result: result, expires: expires)
        }
    }

    /// Entries held (expired ones included until they are read or evicted).
    public var count: Int { lock.withLock { entries.count } }

    /// Drops every expired entry; when none had expired, the one closest to expiry. Lock held.
    private func evict(now: MailTime) {
        let before = entries.count
        entries = entries.filter { now < $0.value.expires }
        guard entries.count == before, let soonest = entries.min(by: { $0.value.expires < $1.value.expires }) else {
            return
        }
        entries[soonest.key] = nil
    }
}
