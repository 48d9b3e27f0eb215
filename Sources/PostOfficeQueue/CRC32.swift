// CRC32: the checksum every queue record carries (CRC-32/ISO-HDLC, the one zlib, gzip and PNG use).
// Chosen over FNV because a CRC is built to detect corruption — every burst up to 32 bits and every odd
// number of flipped bits — while FNV is a hash for spreading keys, with no such guarantee.

/// CRC-32 (polynomial 0x04C11DB7, reflected as 0xEDB88320, initial and final XOR 0xFFFFFFFF), as in
/// [RFC 1952 §8](https://www.rfc-editor.org/rfc/rfc1952#section-8). `CRC32.checksum("123456789")` is `0xCBF43926`.
public struct CRC32: Hashable, Sendable {
    /// The running register, before the final XOR.
    private var register: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// The checksum of everything passed to ``update(_:)`` so far.
    public var value: UInt32 { register ^ 0xFFFF_FFFF }

    /// Adds `bytes` to the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = register
        // Slicing-by-8: eight table look-ups per 64 bits instead of one per byte, without bounds checks (every
        // index is a byte, under 256); bodies are megabytes and every record is checked on write and on read.
        Self.tables.withUnsafeBufferPointer { tables in
            let table = tables.baseAddress!
            var index = 0
            let count = bytes.count
            while index + 8 <= count {
                let one = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self)) ^ crc
                let two = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self))
                crc = table[7 * 256 + Int(one & 0xFF)] ^ table[6 * 256 + Int((one >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((one >> 16) & 0xFF)] ^ table[4 * 256 + Int(one >> 24)]
                    ^ table[3 * 256 + Int(two & 0xFF)] ^ table[2 * 256 + Int((two >> 8) & 0xFF)]
                    ^ table[256 + Int((two >> 16) & 0xFF)] ^ table[Int(two >> 24)]
                index += 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        register = crc
    }

    /// Adds `bytes` to the checksum.
    public mutating func update(_ bytes: some Collection<UInt8>) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) {
            return done
        }
        let copy = Array(bytes)
        copy.withUnsafeBytes { update($0) }
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    /// Eight 256-entry tables: table 0 is the classic byte table; table k advances k more zero bytes.
    private static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            table[n] = c
        }
        for n in 0..<256 {
            for k in 1..<8 {
                let previous = table[(k - 1) * 256 + n]
                table[k * 256 + n] = table[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return table
    }()
}
