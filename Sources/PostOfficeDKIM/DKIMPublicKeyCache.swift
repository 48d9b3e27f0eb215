// DKIMPublicKeyCache: parsed verification keys shared by the verifiers of one server, keyed by the key type
// and the decoded `p=` bytes. Loading an RSA key into OpenSSL (DER decoders) cost several times the signature
// check itself; senders reuse a handful of keys. Bounded, with clock (second-chance) eviction; thread-safe.

import PostOfficeCore

/// A bounded, thread-safe cache of loaded ``DKIMPublicKey`` values.
///
/// Keyed by the key material itself, so a rotated or revoked key is never served stale: the key record
/// is still fetched from DNS for every message; only turning its `p=` into an OpenSSL key is skipped.
public final class DKIMPublicKeyCache: @unchecked Sendable {
    private struct Key: Hashable {
        var keyType: DKIMKeyType
        var bytes: [UInt8]

        func hash(into hasher: inout Hasher) {
            hasher.combine(keyType)
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }  // one call, not one per byte
        }
    }

    private struct Slot {
        var key: Key
        var value: DKIMPublicKey
        var referenced: Bool
    }

    /// Most keys held; an RSA-2048 key takes a few KiB in OpenSSL.
    public let capacity: Int

    private let lock = Lock()
    // All state below is guarded by `lock`.
    private var indices: [Key: Int] = [:]
    private var slots: [Slot] = []
    private var hand = 0
    private var hitCount = 0
    private var missCount = 0

    public init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    /// The loaded key for `bytes`, from the cache or loaded now (and kept); throws as ``DKIMPublicKey``'s
    /// initializer does. Keys that fail to load are not kept.
    public func key(keyType: DKIMKeyType, bytes: [UInt8]) throws(DKIMKeyError) -> DKIMPublicKey {
        let key = Key(keyType: keyType, bytes: bytes)
        let cached: DKIMPublicKey? = lock.withLock {
            guard let index = indices[key] else {
                missCount += 1
                return nil
            }
            hitCount += 1
            slots[index].referenced = true
            return slots[index].value
        }
        if let cached { return cached }
        // Loaded outside the lock: two threads may load the same key once each, which is harmless.
        let loaded = try DKIMPublicKey(keyType: keyType, bytes: bytes)
        lock.withLock { insert(loaded, for: key) }
        return loaded
    }

    /// Keys held now.
    public var count: Int { lock.withLock { slots.count } }

    /// Lookups answered from the cache and lookups that loaded a key, since creation.
    public var statistics: (hits: Int, misses: Int) { lock.withLock { (hitCount, missCount) } }

    /// Adds or replaces; when full, the clock hand passes over recently used slots once, then takes one. Lock held.
    private func insert(_ value: DKIMPublicKey, for key: Key) {
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
