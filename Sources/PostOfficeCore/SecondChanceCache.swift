// SecondChanceCache: the bounded, thread-safe map behind the parsed-record caches (DKIM keys, SPF and DMARC
// records): lookups mark their entry used, and when full the clock hand passes over used entries once (clearing
// the mark) and replaces the first unused one. Counts hits and misses for tests and metrics.

/// A bounded, thread-safe key-value cache with clock (second-chance) eviction.
public final class SecondChanceCache<Key: Hashable, Value>: @unchecked Sendable {
    private struct Slot {
        var key: Key
        var value: Value
        var referenced: Bool
    }

    /// Most entries held.
    public let capacity: Int

    private let lock = Lock()
    // All state below is guarded by `lock`.
    private var indices: [Key: Int] = [:]
    private var slots: [Slot] = []
    private var hand = 0
    private var hitCount = 0
    private var missCount = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The value for `key`, marked as recently used; nil (counted as a miss) when absent.
    public func value(for key: Key) -> Value? {
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
    public func store(_ value: Value, for key: Key) {
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

    /// Entries held now.
    public var count: Int { lock.withLock { slots.count } }

    /// Lookups answered from the cache and lookups that missed, since creation.
    public var statistics: (hits: Int, misses: Int) { lock.withLock { (hitCount, missCount) } }
}
