// ConstantTimeComparison: compares secrets without stopping at the first difference, so the time a
// password check takes does not tell an attacker how many leading bytes of a hash were right.

/// Byte comparison whose running time depends only on the lengths of its inputs.
enum ConstantTimeComparison {
    /// True when `a` and `b` hold the same bytes. Walks the longer input in full either way.
    @inline(never)
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
