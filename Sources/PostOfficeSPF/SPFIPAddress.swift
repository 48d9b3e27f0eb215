// SPFIPAddress: the client address an SPF check is about, parsed and printed without libc, because SPF
// needs forms no socket API gives: the dotted nibbles of %{i}, the reverse-lookup name for "ptr", and
// prefix comparison for ip4/ip6/a/mx with CIDR lengths. IPv4-mapped IPv6 addresses become IPv4 (RFC 7208 §5).

/// An IPv4 or IPv6 address as used by [RFC 7208](https://www.rfc-editor.org/rfc/rfc7208) check_host().
///
/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is stored as the IPv4 address it maps to, so it matches
/// `ip4:` mechanisms and is looked up with A records ([RFC 7208 §5](https://www.rfc-editor.org/rfc/rfc7208#section-5)).
public struct SPFIPAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    /// True for IPv4 (including addresses that arrived IPv4-mapped).
    public var isIPv4: Bool { bytes.count == 4 }

    /// Parses a literal IPv4 or IPv6 address; nil when `text` is not one.
    public init?(_ text: String) {
        if let v4 = Self.parseIPv4(Substring(text)) {
            bytes = v4
        } else if let v6 = Self.parseIPv6(Substring(text)) {
            // IPv4-mapped: ::ffff:a.b.c.d is the IPv4 client it stands for.
            if v6[0..<10].allSatisfy({ $0 == 0 }) && v6[10] == 0xff && v6[11] == 0xff {
                bytes = Array(v6[12...])
            } else {
                bytes = v6
            }
        } else {
            return nil
        }
    }

    /// Wraps 4 or 16 raw bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Dotted quad for IPv4; the RFC 5952 canonical text (lower case, longest zero run compressed) for IPv6.
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for index in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])) }
        // Longest run of two or more zero groups, first one on a tie (RFC 5952 §4.2).
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > best.length && end - index >= 2 { best = (index, end - index) }
                index = end
            } else {
                index += 1
            }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        if best.start < 0 { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }

    /// The `%{i}` macro form: dotted quad, or 32 dot-separated nibbles for IPv6 (RFC 7208 §7.3).
    ///
    /// The nibbles are upper case: the RFC leaves case open (its §7.4 example is lower case, DNS does not
    /// care), and the OpenSPF suite (v-macro-ip6) and pyspf spell explanations with upper case.
    public var macroForm: String {
        if isIPv4 { return description }
        return nibbles.joined(separator: ".").uppercased()
    }

    /// The name whose PTR records map this address to host names: `4.3.2.1.in-addr.arpa` or the `ip6.arpa` form.
    public var reverseLookupName: String {
        if isIPv4 { return bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa" }
        return nibbles.reversed().joined(separator: ".") + ".ip6.arpa"
    }

    private var nibbles: [String] {
        bytes.flatMap { [String($0 >> 4, radix: 16), String($0 & 0xf, radix: 16)] }
    }

    /// True when the first `prefixLength` bits of `other` equal this address's (same family only).
    public func matches(_ other: SPFIPAddress, prefixLength: Int) -> Bool {
        guard bytes.count == other.bytes.count else { return false }
        var remaining = prefixLength
        for index in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if bytes[index] & mask != other.bytes[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// Strict dotted quad: four decimal parts 0–255, no leading zeros, nothing else.
    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        // Byte by byte (every checked message parses its client's address): four parts of one to three ASCII
        // digits, no leading zero, each at most 255; anything else (a non-ASCII byte too) is not IPv4.
        var result: [UInt8] = []
        result.reserveCapacity(4)
        var value = 0
        var digits = 0
        var leadingZero = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, result.count < 3 else { return nil }
                result.append(UInt8(value))
                (value, digits, leadingZero) = (0, 0, false)
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), !leadingZero, digits < 3 else { return nil }
            if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
            guard value <= 255 else { return nil }
        }
        guard digits > 0, result.count == 3 else { return nil }
        result.append(UInt8(value))
        return result
    }

    /// RFC 4291 §2.2 text: eight groups, one `::`, optionally an IPv4 dotted quad at the end.
    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring, allowIPv4: Bool) -> [UInt8]? {
            if part.isEmpty { return [] }
            var result: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if allowIPv4 && index == pieces.count - 1 && piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    result += v4
                    continue
                }
                guard (1...4).contains(piece.count), piece.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                    let value = UInt16(piece, radix: 16)
                else { return nil }
                result += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return result
        }
        if halves.count == 1 {
            guard let all = groups(text, allowIPv4: true), all.count == 16 else { return nil }
            return all
        }
        guard let head = groups(halves[0], allowIPv4: false), let tail = groups(halves[1], allowIPv4: true),
            head.count + tail.count <= 14
        else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

extension Substring {
    /// Splits on a multi-character separator (no Foundation).
    fileprivate func components(separatedBy separator: String) -> [Substring] {
        var result: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            result.append(rest[rest.startIndex..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        result.append(rest)
        return result
    }
}
