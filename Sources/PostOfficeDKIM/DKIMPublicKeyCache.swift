// DKIMPublicKeyCache: parsed verification keys shared by the verifiers of one server, keyed by the key type
// and the decoded `p=` bytes, or by the whole key record text (then the parsed record is kept beside its key).
// Loading an RSA key into OpenSSL (DER decoders) cost several times the signature check itself, and parsing the
// record (tag-list, base64 of p=) more than the rest of a verify; senders reuse a handful of keys. Bounded,
// with clock (second-chance) eviction, thread-safe (SecondChanceCache).

import PostOfficeCore

/// A bounded, thread-safe cache of loaded ``DKIMPublicKey`` values.
///
/// Keyed by the key material itself (or the exact record text holding it), so a rotated or revoked key is
/// never served stale: the key record is still fetched from DNS for every message; only parsing it and turning
/// its `p=` into an OpenSSL key is skipped.
public final class DKIMPublicKeyCache: @unchecked Sendable {
    private enum Key: Hashable {
        case material(DKIMKeyType, [UInt8])
        /// A key record's text, exactly as answered (byte for byte: see ``ExactText``).
        case record(ExactText)

        func hash(into hasher: inout Hasher) {
            switch self {
            case .material(let keyType, let bytes):
                hasher.combine(keyType)
                bytes.withUnsafeBytes { hasher.combine(bytes: $0) }  // one call, not one per byte
            case .record(let text):
                hasher.combine(text)
            }
        }
    }

    /// A loaded key, with its parsed record for `.record` keys.
    private struct Entry {
        var key: DKIMPublicKey
        var record: DKIMKeyRecord?
    }

    private let entries: SecondChanceCache<Key, Entry>

    /// Most keys held; an RSA-2048 key takes a few KiB in OpenSSL.
    public var capacity: Int { entries.capacity }

    public init(capacity: Int = 1000) {
        entries = SecondChanceCache(capacity: capacity)
    }

    /// The loaded key for `bytes`, from the cache or loaded now (and kept); throws as ``DKIMPublicKey``'s
    /// initializer does. Keys that fail to load are not kept.
    public func key(keyType: DKIMKeyType, bytes: [UInt8]) throws(DKIMKeyError) -> DKIMPublicKey {
        let key = Key.material(keyType, bytes)
        if let cached = entries.value(for: key) { return cached.key }
        // Loaded outside the lock: two threads may load the same key once each, which is harmless.
        let loaded = try DKIMPublicKey(keyType: keyType, bytes: bytes)
        entries.store(Entry(key: loaded, record: nil), for: key)
        return loaded
    }

    /// The key record `text` parsed, with its key loaded (nil when `p=` is empty, i.e. revoked, or does not
    /// load as `k=` says), from the cache or parsed now. Throws as ``DKIMKeyRecord/init(parsing:)`` does.
    /// Only records whose key loaded are kept; the cache key is the text itself, so any change to the
    /// published record (a rotated key, new flags) is a miss.
    public func keyRecord(parsing text: String) throws(DKIMKeyRecordError) -> (record: DKIMKeyRecord, key: DKIMPublicKey?) {
        let key = Key.record(ExactText(text))
        // Entries under `.record` keys always hold their record.
        if let cached = entries.value(for: key), let record = cached.record { return (record, cached.key) }
        let record = try DKIMKeyRecord(parsing: text)
        guard !record.isRevoked, let loaded = try? DKIMPublicKey(keyType: record.keyType, bytes: record.publicKey) else {
            return (record, nil)
        }
        entries.store(Entry(key: loaded, record: record), for: key)
        return (record, loaded)
    }

    /// Keys held now.
    public var count: Int { entries.count }

    /// Lookups answered from the cache and lookups that loaded a key, since creation.
    public var statistics: (hits: Int, misses: Int) { entries.statistics }
}
