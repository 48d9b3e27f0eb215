// DNSCacheTests: TTL expiry on an injected clock, negative caching, case-insensitive keys, caps and the
// size bound.

import PostOfficeCore
import Testing
@testable import PostOfficeDNS

@Suite struct DNSCacheTests {
    static func answer(ttl: UInt32) -> DNSLookupResult {
        .answer(DNSAnswer(canonicalName: name("mx.example.com"), records: [record("mx.example.com", ttl: ttl, .a(ip("192.0.2.1")))], ttl: ttl))
    }

    @Test func entriesExpireWithTheirTTL() {
        let clock = ManualClock()
        let cache = DNSCache(clock: clock)
        cache.store(Self.answer(ttl: 60), for: name("MX.example.com"), .a)
        #expect(cache.lookup(name("mx.EXAMPLE.com"), .a) == Self.answer(ttl: 60))
        #expect(cache.lookup(name("mx.example.com"), .aaaa) == nil)
        clock.advance(seconds: 59)
        #expect(cache.lookup(name("mx.example.com"), .a) != nil)
        clock.advance(seconds: 1)
        #expect(cache.lookup(name("mx.example.com"), .a) == nil)
    }

    @Test func negativeAnswersAreCachedForTheirTTLCapped() {
        let clock = ManualClock()
        let cache = DNSCache(clock: clock)
        cache.store(.nameError(negativeTTL: 120), for: name("nx.example"), .mx)
        cache.store(.noData(negativeTTL: 1_000_000), for: name("nodata.example"), .mx)
        clock.advance(seconds: 119)
        #expect(cache.lookup(name("nx.example"), .mx) == .nameError(negativeTTL: 120))
        clock.advance(seconds: 1)
        #expect(cache.lookup(name("nx.example"), .mx) == nil)
        clock.advance(seconds: Int(DNSCache.maxNegativeTTL) - 121)
        #expect(cache.lookup(name("nodata.example"), .mx) != nil)
        clock.advance(seconds: 1)
        #expect(cache.lookup(name("nodata.example"), .mx) == nil)
    }

    @Test func temporaryFailuresAndZeroTTLsAreNotStored() {
        let cache = DNSCache(clock: ManualClock())
        cache.store(.temporaryFailure(.timeout), for: name("a.example"), .a)
        cache.store(.noData(negativeTTL: 0), for: name("b.example"), .a)
        cache.store(Self.answer(ttl: 0), for: name("c.example"), .a)
        #expect(cache.count == 0)
    }

    @Test func sizeIsBoundedExpiredFirstThenSoonestToExpire() {
        let clock = ManualClock()
        let cache = DNSCache(capacity: 3, clock: clock)
        cache.store(Self.answer(ttl: 10), for: name("short.example"), .a)
        cache.store(Self.answer(ttl: 500), for: name("long.example"), .a)
        cache.store(Self.answer(ttl: 100), for: name("middle.example"), .a)
        cache.store(Self.answer(ttl: 1000), for: name("new.example"), .a)
        #expect(cache.count == 3)
        #expect(cache.lookup(name("short.example"), .a) == nil)
        clock.advance(seconds: 200)
        cache.store(Self.answer(ttl: 1000), for: name("newer.example"), .a)
        #expect(cache.lookup(name("middle.example"), .a) == nil)
        #expect(cache.lookup(name("long.example"), .a) != nil && cache.lookup(name("newer.example"), .a) != nil)
    }
}
