// DKIMTestSupport: helpers shared by the DKIM tests — run a verifier over a message in given chunk sizes
// with a dictionary standing in for DNS, and split bytes at random.

import PostOfficeDKIM

enum DKIMTestSupport {
    /// Verifies `message`, fed in chunks of `chunkSize` (0: all at once), answering key queries from `dns`.
    static func verify(
        _ message: String, dns: [String: DKIMKeyAnswerText], now: Int = 1_700_000_000, chunkSize: Int = 0,
        limits: DKIMVerifierLimits = DKIMVerifierLimits()
    ) -> [DKIMResult] {
        verify(Array(message.utf8), dns: dns, now: now, chunks: chunkSize == 0 ? [] : [chunkSize], limits: limits)
    }

    static func verify(
        _ bytes: [UInt8], dns: [String: DKIMKeyAnswerText], now: Int = 1_700_000_000, chunks: [Int],
        limits: DKIMVerifierLimits = DKIMVerifierLimits()
    ) -> [DKIMResult] {
        var verifier = DKIMVerifier(now: now, limits: limits)
        for chunk in split(bytes, sizes: chunks) { verifier.receive(chunk) }
        verifier.finish()
        for query in verifier.keyQueries {
            switch dns[query.name] {
            case .text(let text)?: verifier.provideKey(.record(text), for: query)
            case .notFound?, nil: verifier.provideKey(.notFound, for: query)
            case .temporary?: verifier.provideKey(.temporaryFailure, for: query)
            }
        }
        return verifier.results()
    }

    /// `bytes` cut into pieces whose sizes cycle through `sizes` (all at once when empty).
    static func split(_ bytes: [UInt8], sizes: [Int]) -> [ArraySlice<UInt8>] {
        guard !sizes.isEmpty else { return [bytes[...]] }
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var turn = 0
        while start < bytes.count {
            let size = max(1, sizes[turn % sizes.count])
            turn += 1
            let end = min(bytes.count, start + size)
            pieces.append(bytes[start..<end])
            start = end
        }
        return pieces
    }

    /// Random piece sizes from a seeded generator, so a failure replays.
    static func randomSizes(seed: UInt64, count: Int = 64, maximum: Int = 40) -> [Int] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Int.random(in: 1...maximum, using: &generator) }
    }
}

/// SplitMix64: a small deterministic generator for test splits.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
