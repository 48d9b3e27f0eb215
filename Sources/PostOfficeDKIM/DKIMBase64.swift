// DKIMBase64: base64 as DKIM spells it (RFC 6376 §2.4 base64string): folding whitespace may appear anywhere
// and is ignored on decoding. Internal: PostOfficeDKIM depends only on PostOfficeCore and OpenSSL.

enum DKIMBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 63)])
            out.append(alphabet[Int(group >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(group >> 6 & 63)] : 61)
            out.append(index + 2 < bytes.count ? alphabet[Int(group & 63)] : 61)
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The decoded bytes, or nil when a non-alphabet byte, misplaced padding or a bad length shows up.
    static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(bytes: $0) }
    }

    /// `decode` over the UTF-8 bytes, with the table read through a pointer (no per-byte bounds checks).
    private static func decode(bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3 + 3)
        var accumulator: UInt32 = 0
        var bits = 0
        var symbols = 0
        var padding = 0
        let valid: Bool = values.withUnsafeBufferPointer { table in
            let count = bytes.count
            var index = 0
            while index < count {
                // Four symbols at once while on a quantum boundary and all four are in the alphabet.
                if bits == 0, padding == 0, index + 4 <= count {
                    let first = table[Int(bytes[index])], second = table[Int(bytes[index + 1])]
                    let third = table[Int(bytes[index + 2])], fourth = table[Int(bytes[index + 3])]
                    if first | second | third | fourth >= 0 {
                        let group = UInt32(first) << 18 | UInt32(second) << 12 | UInt32(third) << 6 | UInt32(fourth)
                        out.append(UInt8(truncatingIfNeeded: group >> 16))
                        out.append(UInt8(truncatingIfNeeded: group >> 8))
                        out.append(UInt8(truncatingIfNeeded: group))
                        symbols += 4
                        index += 4
                        continue
                    }
                }
                let byte = bytes[index]
                index += 1
                if byte == 32 || byte == 9 || byte == 13 || byte == 10 { continue }
                if byte == 61 {
                    padding += 1
                    guard padding <= 2 else { return false }
                    continue
                }
                guard padding == 0 else { return false }  // data after "="
                let value = table[Int(byte)]
                guard value >= 0 else { return false }
                symbols += 1
                accumulator = accumulator << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                    accumulator &= (1 << UInt32(bits)) - 1
                }
            }
            return true
        }
        guard valid else { return nil }
        // Either padded to a multiple of four, or unpadded with a valid remainder (1 leftover symbol is never valid).
        if padding > 0 {
            guard (symbols + padding) % 4 == 0 else { return nil }
        } else if symbols % 4 == 1 {
            return nil
        }
        return out
    }
}
