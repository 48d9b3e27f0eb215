// FuzzInput: turns one fuzzer input into the choices a harness needs (configuration flags, chunk sizes)
// plus the payload, so the same bytes always replay the same run.

/// A fuzzer input read as: `headerCount` leading bytes of choices, then the payload.
public struct FuzzInput: Sendable {
    /// The leading choice bytes (zero-padded when the input is shorter).
    public let header: [UInt8]
    /// Everything after the header.
    public let payload: [UInt8]

    public init(_ bytes: [UInt8], headerCount: Int) {
        let count = min(headerCount, bytes.count)
        header = Array(bytes[..<count]) + Array(repeating: 0, count: headerCount - count)
        payload = Array(bytes[count...])
    }

    /// Bit `index` of the header (bit 0 is the low bit of the first byte).
    public func flag(_ index: Int) -> Bool {
        let byte = index / 8
        guard byte < header.count else { return false }
        return header[byte] & (1 << UInt8(index % 8)) != 0
    }

    /// Splits `bytes` into consecutive chunks whose sizes cycle through `seeds`: a seed `s` gives a chunk
    /// of `s % modulus + 1` bytes, except 0, which takes everything left. Concatenated, the chunks are `bytes`.
    public static func chunks(of bytes: [UInt8], seeds: [UInt8], modulus: Int = 32) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var start = 0
        var turn = 0
        while start < bytes.count {
            let seed = seeds.isEmpty ? 0 : seeds[turn % seeds.count]
            turn += 1
            let size = seed == 0 ? bytes.count - start : min(Int(seed) % modulus + 1, bytes.count - start)
            result.append(bytes[start..<(start + size)])
            start += size
        }
        return result
    }
}
