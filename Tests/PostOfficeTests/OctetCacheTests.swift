// OctetCacheTests: the POP3 size cache for names without W= (counted at one login, kept per Maildir for the next).

import Testing
@testable import PostOffice

/// The sizes counted at a login for names without W=, kept per Maildir for the next login.
struct OctetCacheTests {
    @Test func sizesAreKeptPerMaildirAndForgottenWhenFull() {
        let cache = OctetCache()
        #expect(cache.sizes(inMaildir: "/m/a").isEmpty)
        cache.record(["1.M1P1.h": 100, "2.M1P1.h": 200], inMaildir: "/m/a")
        cache.record(["1.M1P1.h": 7], inMaildir: "/m/b")
        cache.record([:], inMaildir: "/m/c")
        #expect(cache.sizes(inMaildir: "/m/a") == ["1.M1P1.h": 100, "2.M1P1.h": 200])
        #expect(cache.sizes(inMaildir: "/m/b") == ["1.M1P1.h": 7])
        #expect(cache.sizes(inMaildir: "/m/c").isEmpty)
        // Past the capacity the cache starts again from what is being recorded.
        var many: [String: Int] = [:]
        for index in 0..<OctetCache.capacity { many["\(index).M1P1.h"] = index }
        cache.record(many, inMaildir: "/m/d")
        #expect(cache.sizes(inMaildir: "/m/a").isEmpty)
        #expect(cache.sizes(inMaildir: "/m/d").count == OctetCache.capacity)
    }
}
