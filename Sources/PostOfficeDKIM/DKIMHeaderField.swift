// DKIMHeaderField: one header field as it arrived (folding kept) and its canonical forms, RFC 6376 §3.4.1
// (simple: unchanged) and §3.4.2 (relaxed: lower-case name, unfolded, WSP runs reduced, no WSP around ":").
// Also splits a header section into fields, the input of both the verifier and the signer.

/// A header field of a message, with the exact bytes DKIM hashes.
public struct DKIMHeaderField: Hashable, Sendable {
    /// The field's bytes, `Name: value` with any folding, ending in CRLF.
    public var raw: [UInt8]
    /// Offset of the colon within `raw`.
    public var colon: Int

    /// A field from its raw bytes (CRLF-terminated); nil when there is no colon.
    public init?(raw: [UInt8]) {
        guard let colon = raw.firstIndex(of: 58) else { return nil }
        var raw = raw
        if raw.suffix(2) != [13, 10] { raw += [13, 10] }
        self.raw = raw
        self.colon = colon
    }

    /// The name as written, trailing whitespace removed.
    public var name: String {
        var end = colon
        while end > 0, raw[end - 1] == 32 || raw[end - 1] == 9 { end -= 1 }
        return String(decoding: raw[..<end], as: UTF8.self)
    }

    /// The lower-cased name, for matching `h=` entries.
    public var lowercasedName: String { name.lowercased() }

    /// The value bytes after the colon, without the final CRLF.
    public var value: ArraySlice<UInt8> { raw[(colon + 1)..<(raw.count - 2)] }

    /// The field canonicalized; `dropCRLF` for the DKIM-Signature field itself (§3.7).
    public func canonicalized(_ algorithm: DKIMCanonicalization, dropCRLF: Bool = false) -> [UInt8] {
        var out: [UInt8]
        switch algorithm {
        case .simple:
            out = raw
        case .relaxed:
            out = Array(name.lowercased().utf8)
            out.append(58)
            out += Self.relaxedValue(value)
            out += [13, 10]
        }
        if dropCRLF { out.removeLast(2) }
        return out
    }

    /// Unfold, reduce each WSP run to one SP, drop leading and trailing WSP (§3.4.2).
    static func relaxedValue(_ value: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var pendingSpace = false
        for byte in value {
            switch byte {
            case 13, 10:
                continue
            case 32, 9:
                pendingSpace = true
            default:
                if pendingSpace && !out.isEmpty { out.append(32) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return out
    }

    /// Splits a header section (no blank line) into fields: lines end in LF with an optional CR, lines
    /// starting with SP or HT continue the previous field, and every field is re-terminated with CRLF.
    /// Lines that are neither a field nor a continuation are dropped (they cannot be signed).
    public static func fields(of section: some Collection<UInt8>) -> [DKIMHeaderField] {
        // Whole lines are found with one scan each and copied as slices, not byte by byte.
        let bytes = Array(section)
        var fields: [DKIMHeaderField] = []
        var current: [UInt8] = []
        func flush() {
            if !current.isEmpty, let field = DKIMHeaderField(raw: current) { fields.append(field) }
            current = []
        }
        var start = 0
        while start < bytes.count {
            let newline = bytes[start...].firstIndex(of: 10)
            var end = newline ?? bytes.count
            if end > start && bytes[end - 1] == 13 { end -= 1 }
            let line = bytes[start..<end]
            if let first = line.first, first == 32 || first == 9, !current.isEmpty {
                current += line
            } else {
                flush()
                current = Array(line)
            }
            current += [13, 10]
            start = newline.map { $0 + 1 } ?? bytes.count
        }
        flush()
        return fields
    }

    /// The fields `names` selects, bottom-up per name (§5.4.2); a name listed more often than the field
    /// occurs selects nothing for the extra entries (which is how over-signing signs "absent").
    public static func select(_ names: [String], from fields: [DKIMHeaderField]) -> [DKIMHeaderField] {
        var used = Set<Int>()
        var selected: [DKIMHeaderField] = []
        let lowercasedNames = fields.map(\.lowercasedName)  // once, not once per entry of `names`
        for name in names {
            let wanted = name.lowercased()
            if let index = fields.indices.reversed().first(where: { !used.contains($0) && lowercasedNames[$0] == wanted }) {
                used.insert(index)
                selected.append(fields[index])
            }
        }
        return selected
    }
}
