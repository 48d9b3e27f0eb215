// SecondChanceCacheTests: lookups, replacement when full, and removal (the slot it frees is reused and the
// other entries stay reachable).

import Testing
import PostOfficeCore

@Suite struct SecondChanceCacheTests {
    @Test func aRemovedEntryIsGoneAndTheOthersStay() {
        let cache = SecondChanceCache<String, Int>(capacity: 3)
        cache.store(1, for: "a")
        cache.store(2, for: "b")
        cache.store(3, for: "c")
        cache.removeValue(for: "a")
        #expect(cache.value(for: "a") == nil)
        #expect(cache.value(for: "b") == 2)
        #expect(cache.value(for: "c") == 3)
        #expect(cache.count == 2)
        cache.store(4, for: "d")
        #expect(cache.count == 3, "the freed slot is taken before anything is evicted")
        #expect(cache.value(for: "b") == 2 && cache.value(for: "c") == 3 && cache.value(for: "d") == 4)
    }

    @Test func removingTheLastOrAMissingKeyIsHarmless() {
        let cache = SecondChanceCache<String, Int>(capacity: 2)
        cache.removeValue(for: "nothing")
        cache.store(1, for: "a")
        cache.removeValue(for: "a")
        #expect(cache.count == 0)
        cache.store(2, for: "b")
        cache.store(3, for: "c")
        cache.store(4, for: "d")
        #expect(cache.count == 2)
        #expect(cache.value(for: "d") == 4)
    }
}
