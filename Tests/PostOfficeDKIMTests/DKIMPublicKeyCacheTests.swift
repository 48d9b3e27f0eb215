// DKIMPublicKeyCacheTests: the shared key cache loads a key once, stays within its capacity (clock eviction
// keeps a recently used key), keeps no key that failed to load, keeps parsed key records by their exact text
// (a rotated or revoked record is a miss), and verifiers using it give the same results.

import PostOfficeDKIM
import Testing

@Suite("DKIM public key cache")
struct DKIMPublicKeyCacheTests {
    static func ed25519Key(_ seed: UInt8) throws -> [UInt8] {
        try DKIMPrivateKey(ed25519Seed: [UInt8](repeating: seed, count: 32)).publicKeyBytes
    }

    @Test("a key is loaded once, then answered from the cache")
    func hit() throws {
        let cache = DKIMPublicKeyCache(capacity: 4)
        let bytes = try Self.ed25519Key(1)
        let first = try cache.key(keyType: .ed25519, bytes: bytes)
        let second = try cache.key(keyType: .ed25519, bytes: bytes)
        #expect(first.keyType == .ed25519 && second.keyType == .ed25519)
        #expect(cache.statistics == (hits: 1, misses: 1))
        #expect(cache.count == 1)
    }

    @Test("the cache stays within its capacity and keeps a key used since the hand last passed")
    func eviction() throws {
        let cache = DKIMPublicKeyCache(capacity: 2)
        let a = try Self.ed25519Key(1), b = try Self.ed25519Key(2), c = try Self.ed25519Key(3)
        _ = try cache.key(keyType: .ed25519, bytes: a)
        _ = try cache.key(keyType: .ed25519, bytes: b)
        _ = try cache.key(keyType: .ed25519, bytes: a)  // a referenced
        _ = try cache.key(keyType: .ed25519, bytes: c)  // evicts b, not a
        #expect(cache.count == 2)
        #expect(cache.statistics == (hits: 1, misses: 3))
        _ = try cache.key(keyType: .ed25519, bytes: a)
        #expect(cache.statistics == (hits: 2, misses: 3))
        _ = try cache.key(keyType: .ed25519, bytes: b)
        #expect(cache.statistics == (hits: 2, misses: 4))
        for seed in UInt8(4)...20 { _ = try cache.key(keyType: .ed25519, bytes: Self.ed25519Key(seed)) }
        #expect(cache.count == 2)
    }

    @Test("a key that does not load is refused every time and not kept")
    func failure() {
        let cache = DKIMPublicKeyCache()
        for _ in 0..<2 {
            #expect(throws: DKIMKeyError.unreadableKey) { try cache.key(keyType: .ed25519, bytes: [1, 2, 3]) }
            #expect(throws: DKIMKeyError.unreadableKey) { try cache.key(keyType: .rsa, bytes: [0x30, 0x00]) }
        }
        #expect(cache.count == 0)
    }

    @Test("the same bytes under another key type are another entry")
    func keyTypeIsPartOfTheKey() throws {
        let cache = DKIMPublicKeyCache()
        let bytes = try Self.ed25519Key(7)
        _ = try cache.key(keyType: .ed25519, bytes: bytes)
        #expect(throws: DKIMKeyError.self) { try cache.key(keyType: .rsa, bytes: bytes) }
        #expect(cache.count == 1)
    }

    @Test("verifiers sharing a cache pass and fail as verifiers without one", arguments: [DKIMKeyType.rsa, .ed25519])
    func verifiersShareKeys(keyType: DKIMKeyType) throws {
        let key = try DKIMGeneratedKey(keyType)
        let message = "From: a@example.com\r\nSubject: hi\r\n\r\nbody  text \r\n"
        var signer = DKIMSigner(
            keys: [DKIMSigningKey(privateKey: key.privateKey, domain: "example.com", selector: "s")], time: 1_765_000_000)
        signer.receive(Array(message.utf8))
        let signed = try signer.finish().joined() + message
        let tampered = signed.replacing("Subject: hi", with: "Subject: ho")
        let cache = DKIMPublicKeyCache()
        for (text, expected) in [(signed, DKIMResultStatus.pass), (tampered, .fail), (signed, .pass)] {
            for publicKeys in [cache, nil] {
                var verifier = DKIMVerifier(now: 1_765_000_000, publicKeys: publicKeys)
                verifier.receive(Array(text.utf8))
                verifier.finish()
                for query in verifier.keyQueries { verifier.provideKey(.record(key.txtRecord), for: query) }
                #expect(verifier.results().map(\.status) == [expected])
            }
        }
        #expect(cache.statistics == (hits: 2, misses: 1))
    }

    @Test("a key record is parsed once per text; a rotated, revoked or broken record is never served from the cache")
    func records() throws {
        let cache = DKIMPublicKeyCache(capacity: 4)
        let first = try DKIMGeneratedKey(.ed25519), rotated = try DKIMGeneratedKey(.ed25519)
        let parsed = try cache.keyRecord(parsing: first.txtRecord)
        let again = try cache.keyRecord(parsing: first.txtRecord)
        #expect(parsed.record == (try DKIMKeyRecord(parsing: first.txtRecord)) && again.record == parsed.record)
        #expect(parsed.key != nil && again.key?.keyType == .ed25519)
        #expect(cache.statistics == (hits: 1, misses: 1))
        let next = try cache.keyRecord(parsing: rotated.txtRecord)
        #expect(next.record.publicKey == rotated.privateKey.publicKeyBytes && next.record != parsed.record)
        #expect(cache.statistics == (hits: 1, misses: 2))
        for _ in 0..<2 {
            let revoked = try cache.keyRecord(parsing: "v=DKIM1; k=ed25519; p=")
            #expect(revoked.record.isRevoked && revoked.key == nil)
            let unloadable = try cache.keyRecord(parsing: "v=DKIM1; k=ed25519; p=AQID")
            #expect(unloadable.key == nil)
            #expect(throws: DKIMKeyRecordError.invalidVersion("DKIM2")) { try cache.keyRecord(parsing: "v=DKIM2; p=AQID") }
        }
        #expect(cache.count == 2)
    }
}
