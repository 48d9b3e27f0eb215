// RandomSource: injected randomness (session ids, generated passwords, jitter) so tests can be repeatable.

/// A source of random 64-bit values. Implementations must be thread-safe.
public protocol RandomSource: Sendable {
    func next() -> UInt64
}

extension RandomSource {
    /// A lower-case hex token of `length` characters, for session ids.
    public func token(length: Int = 12) -> String {
        var s = ""
        while s.count < length {
            let v = next()
            s += String(v, radix: 16)
        }
        return String(s.prefix(length))
    }
}

/// The system's cryptographically secure generator.
public struct SystemRandomSource: RandomSource {
    public init() {}
    public func next() -> UInt64 {
        var g = SystemRandomNumberGenerator()
        return g.next()
    }
}

/// A deterministic generator (SplitMix64) for tests.
public final class SeededRandomSource: RandomSource, @unchecked Sendable {
    private let lock = Lock()
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public func next() -> UInt64 {
        lock.withLock {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
