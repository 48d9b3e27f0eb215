// ByteLanes: eight bytes of a UInt64 tested at once (SWAR), for the scans that skip ordinary bytes — the body
// canonicalization's verbatim stretches and the tag-list value check. Each test sets the high bit of every
// byte lane that matches, exactly (no carries between lanes), and clears every other bit.

enum ByteLanes {
    static let lowBits: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    static let highBits: UInt64 = 0x8080_8080_8080_8080
    static let ones: UInt64 = 0x0101_0101_0101_0101

    /// The lanes of `word` that are zero.
    @inline(__always)
    static func zero(_ word: UInt64) -> UInt64 {
        ~(((word & lowBits) &+ lowBits) | word) & highBits
    }

    /// The lanes of `word` equal to `byte`.
    @inline(__always)
    static func equal(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        zero(word ^ (UInt64(byte) &* ones))
    }

    /// The lanes of `word` below 0x21: SP, HT, CR, LF and the other control bytes.
    @inline(__always)
    static func belowExclamation(_ word: UInt64) -> UInt64 {
        ~(((word & lowBits) &+ (0x5F &* ones)) | word) & highBits
    }
}
