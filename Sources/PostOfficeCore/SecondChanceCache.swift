// SecondChanceCache: the bounded, thread-safe map behind the parsed-record caches (DKIM keys, SPF and DMARC
// records): lookups mark their entry used, and when full the clock hand passes over used entries once (clearing
// the mark) and replaces the first unused one. Counts hits and misses for tests and metrics.

/// A bounded, thread-safe key-value cache with clock (second-chance) eviction.
public final class SecondChanceCache<Key: Hashable, Value>: @unchecked Sendable {
    @usableFromInline
    struct Slot {
        @usableFromInline var key: Key
        @usableFromInline var value: Value
        @usableFromInline var referenced: Bool

        @usableFromInline
        init(key: Key, value: Value, referenced: Bool) {
            self.key = key
            self.value = value
            self.referenced = referenced
        }
    }

    /// Most entries held.
    public let capacity: Int

    // Internal rather than private, for the inlinable lookup: every checked message makes a few, and
    // unspecialized in the caller's module each cost more in generic metadata than in the lookup itself.
    @usableFromInline let lock = Lock()
    // All state below is guarded by `lock`.
    @usableFromInline var indices: [Key: Int] = [:]
    @usableFromInline var slots: [Slot] = []
    private var hand = 0
    @usableFromInline var hitCount = 0
    @usableFromInline var missCount = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The value for `key`, marked as recently used; nil (counted as a miss) when absent.
    @inlinable
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

    /// Drops the entry for `key`, if there is one (the last slot takes its place).
    public func removeValue(for key: Key) {
        lock.withLock {
            guard let index = indices.removeValue(forKey: key) else { return }
            let last = slots.count - 1
            if index != last {
                slots[index] = slots[last]
                indices[slots[index].key] = index
            }
            slots.removeLast()
            if hand >= slots.count { hand = 0 }
        }
    }

    /// Entries held now.
    public var count: Int { lock.withLock { slots.count } }

    /// Lookups answered from the cache and lookups that missed, since creation.
    public var statistics: (hits: Int, misses: Int) { lock.withLock { (hitCount, missCount) } }
}
