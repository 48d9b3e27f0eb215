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
        let count = raw.count
        if count < 2 || raw[count - 2] != 13 || raw[count - 1] != 10 { raw += [13, 10] }
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
        var out: [UInt8] = []
        appendCanonicalized(algorithm, to: &out)
        if dropCRLF { out.removeLast(2) }
        return out
    }

    /// Appends the field canonicalized, CRLF included, to `out` (no intermediate arrays or strings).
    func appendCanonicalized(_ algorithm: DKIMCanonicalization, to out: inout [UInt8]) {
        switch algorithm {
        case .simple:
            out += raw
        case .relaxed:
            raw.withUnsafeBufferPointer { bytes in
                var nameEnd = colon
                while nameEnd > 0, bytes[nameEnd - 1] == 32 || bytes[nameEnd - 1] == 9 { nameEnd -= 1 }
                for byte in bytes[..<nameEnd] { out.append(byte >= 65 && byte <= 90 ? byte + 32 : byte) }
                out.append(58)
                Self.appendRelaxedValue(UnsafeBufferPointer(rebasing: bytes[(colon + 1)..<(bytes.count - 2)]), to: &out)
            }
            out.append(13)
            out.append(10)
        }
    }

    /// Whether the name is `lowercasedName` (ASCII letters compared without case; the argument lower-case).
    func hasName(_ lowercasedName: [UInt8]) -> Bool {
        raw.withUnsafeBufferPointer { raw in
            lowercasedName.withUnsafeBufferPointer { wanted in
                var nameEnd = colon
                while nameEnd > 0, raw[nameEnd - 1] == 32 || raw[nameEnd - 1] == 9 { nameEnd -= 1 }
                guard nameEnd == wanted.count else { return false }
                for index in 0..<nameEnd {
                    let byte = raw[index]
                    if (byte >= 65 && byte <= 90 ? byte + 32 : byte) != wanted[index] { return false }
                }
                return true
            }
        }
    }

    /// ``relaxedValue(_:)`` appended to `out`: ordinary runs copied whole, one SP for each WSP run.
    static func appendRelaxedValue(_ value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var pendingSpace = false
        var wroteAny = false
        var index = 0
        let count = value.count
        while index < count {
            let byte = value[index]
            if byte == 13 || byte == 10 {
                index += 1
                continue
            }
            if byte == 32 || byte == 9 {
                pendingSpace = true
                index += 1
                continue
            }
            if pendingSpace && wroteAny { out.append(32) }
            pendingSpace = false
            var end = index + 1
            while end < count, value[end] != 32, value[end] != 9, value[end] != 13, value[end] != 10 { end += 1 }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: value[index..<end]))
            wroteAny = true
            index = end
        }
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
        // Over a buffer pointer: a generic collection from another module is iterated through witness tables,
        // and an array's bounds checks cost more than the scan for LF itself.
        let done = section.withContiguousStorageIfAvailable { fields(contiguous: $0) }
        return done ?? Array(section).withUnsafeBufferPointer { fields(contiguous: $0) }
    }

    private static func fields(contiguous bytes: UnsafeBufferPointer<UInt8>) -> [DKIMHeaderField] {
        var fields: [DKIMHeaderField] = []
        fields.reserveCapacity(32)
        var current: [UInt8] = []
        func flush() {
            if !current.isEmpty, let field = DKIMHeaderField(raw: current) { fields.append(field) }
            current = []
        }
        let count = bytes.count
        var start = 0
        while start < count {
            var newline = start
            while newline < count, bytes[newline] != 10 { newline += 1 }
            var end = newline
            if end > start && bytes[end - 1] == 13 { end -= 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if end > start, bytes[start] == 32 || bytes[start] == 9, !current.isEmpty {
                current.append(contentsOf: line)
            } else {
                flush()
                current.reserveCapacity(line.count + 2)
                current.append(contentsOf: line)
            }
            current.append(13)  // appended one by one: an array literal here is an allocation per line
            current.append(10)
            start = newline + 1
        }
        flush()
        return fields
    }

    /// The fields `names` selects, bottom-up per name (§5.4.2); a name listed more often than the field
    /// occurs selects nothing for the extra entries (which is how over-signing signs "absent").
    public static func select(_ names: [String], from fields: [DKIMHeaderField]) -> [DKIMHeaderField] {
        var used = [Bool](repeating: false, count: fields.count)
        var selected: [DKIMHeaderField] = []
        selected.reserveCapacity(names.count)
        var wanted: [UInt8] = []  // one buffer for every name, not an array per `h=` entry
        wanted.reserveCapacity(64)
        for name in names {
            // Field names are ASCII (§3.2 ftext), so lower-casing the bytes is lower-casing the name.
            wanted.removeAll(keepingCapacity: true)
            for byte in name.utf8 { wanted.append(byte >= 65 && byte <= 90 ? byte + 32 : byte) }
            var index = fields.count - 1
            while index >= 0, used[index] || !fields[index].hasName(wanted) { index -= 1 }
            if index >= 0 {
                used[index] = true
                selected.append(fields[index])
            }
        }
        return selected
    }
}
