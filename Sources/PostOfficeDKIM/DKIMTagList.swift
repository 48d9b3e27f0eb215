// DKIMTagList: the `tag=value; tag=value` syntax shared by DKIM-Signature fields and key records
// (RFC 6376 §3.2). Parsing keeps each value's byte region in the input, because verification must blank
// the `b=` value of the very bytes that were signed.

#if canImport(Glibc)
import Glibc
#endif

/// Why a tag-list did not parse (RFC 6376 §3.2).
public enum DKIMTagListError: Error, Hashable, Sendable {
    /// A tag-spec has no `=`, or an empty or malformed tag name, at this byte offset.
    case malformedTag(offset: Int)
    /// A value holds a byte outside VALCHAR / whitespace (controls, DEL) at this byte offset.
    case invalidValueByte(offset: Int)
    /// The same tag appears twice: §3.2 says the whole list is then invalid.
    case duplicateTag(String)
    /// Nothing but whitespace.
    case empty
}

/// One tag of a tag-list.
public struct DKIMTag: Hashable, Sendable {
    /// The tag name, case-sensitive as §3.2 requires (`b` and `B` differ).
    public var name: String
    /// The value with surrounding whitespace removed (internal folding whitespace kept).
    public var value: String
    /// Bytes after `=` up to the terminating `;` or end, in the parsed input (whitespace included).
    public var valueRegion: Range<Int>

    public init(name: String, value: String, valueRegion: Range<Int> = 0..<0) {
        self.name = name
        self.value = value
        self.valueRegion = valueRegion
    }
}

/// An ordered tag-list, [RFC 6376 §3.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.2).
public struct DKIMTagList: Hashable, Sendable {
    /// The tags in input order; names are unique.
    public var tags: [DKIMTag]

    public init(tags: [DKIMTag]) { self.tags = tags }

    /// The value of tag `name`, or nil.
    public subscript(name: String) -> String? { tags.first { $0.name == name }?.value }

    /// The tag named `name`, or nil.
    public func tag(_ name: String) -> DKIMTag? { tags.first { $0.name == name } }

    /// Parses `text` (a header field value, folding included, or a joined TXT record).
    public init(parsing text: String) throws(DKIMTagListError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// Parses the bytes of a tag-list. Never traps; any malformed input is a thrown error.
    public init(parsing bytes: [UInt8]) throws(DKIMTagListError) {
        // Through a buffer pointer: the scan is per byte, and the array's bounds checks cost more than it.
        let parsed: Result<[DKIMTag], DKIMTagListError> = bytes.withUnsafeBufferPointer { buffer in
            do throws(DKIMTagListError) {
                return .success(try Self.tags(parsing: buffer))
            } catch {
                return .failure(error)
            }
        }
        tags = try parsed.get()
    }

    private static func tags(parsing bytes: UnsafeBufferPointer<UInt8>) throws(DKIMTagListError) -> [DKIMTag] {
        var tags: [DKIMTag] = []
        tags.reserveCapacity(16)
        var index = 0
        let count = bytes.count
        while index < count {
            let specStart = index
            while index < count, Self.isWhitespace(bytes[index]) { index += 1 }
            if index == count {
                // Only whitespace after the last ";" (the optional trailing ";" of §3.2).
                if tags.isEmpty { throw .empty }
                break
            }
            // tag-name = ALPHA *ALNUMPUNC
            let nameStart = index
            guard Self.isAlpha(bytes[index]) else { throw .malformedTag(offset: index) }
            while index < count, Self.isAlpha(bytes[index]) || Self.isDigit(bytes[index]) || bytes[index] == 95 {
                index += 1
            }
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[nameStart..<index]), as: UTF8.self)
            while index < count, Self.isWhitespace(bytes[index]) { index += 1 }
            guard index < count, bytes[index] == 61 else { throw .malformedTag(offset: max(specStart, index)) }
            index += 1
            let regionStart = index
            // The value runs to the next ";" (found with memchr: b= is most of a signature), FWS around it
            // trimmed; inside, FWS is allowed and any other byte below 0x21, or DEL, is an error.
            let base = bytes.baseAddress!
            let end = memchr(base + index, 59, count - index).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base }
                ?? count
            var valueStart = index
            while valueStart < end, Self.isWhitespace(bytes[valueStart]) { valueStart += 1 }
            var valueEnd = end
            while valueEnd > valueStart, Self.isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
            if let invalid = Self.firstInvalidValueByte(in: bytes, from: valueStart, to: valueEnd) {
                throw .invalidValueByte(offset: invalid)
            }
            index = end
            let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
            // A linear look: a tag-list has a dozen tags, and hashing each name cost more.
            guard !tags.contains(where: { $0.name == name }) else { throw .duplicateTag(name) }
            tags.append(DKIMTag(name: name, value: value, valueRegion: regionStart..<index))
            if index < count { index += 1 }  // the ";"
        }
        if tags.isEmpty { throw .empty }
        return tags
    }

    /// The offset of the first byte in `start..<end` that may not be in a value (below 0x21 and not FWS, or
    /// DEL), or nil. Eight bytes at a time skip words with no byte below 0x21 and no DEL.
    private static func firstInvalidValueByte(in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if index + 8 <= end {
                let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                if ByteLanes.belowExclamation(word) | ByteLanes.equal(word, 0x7F) == 0 {
                    index += 8
                    continue
                }
            }
            let byte = bytes[index]
            if (byte < 0x21 && !isWhitespace(byte)) || byte == 0x7F { return index }
            index += 1
        }
        return nil
    }

    /// `name=value; name=value`: parses back to the same names and values.
    public var serialized: String {
        tags.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
    }

    /// `text` without SP, HT, CR and LF. By UTF-8 byte (these four are ASCII, never inside a multi-byte
    /// sequence; a CR LF pair is one Swift Character, so not by Character); unchanged text is not rebuilt.
    static func removingWhitespace(_ text: some StringProtocol) -> String {
        if let string = text as? String { return removingWhitespace(string) }
        return removingWhitespace(String(text))
    }

    /// ``removingWhitespace(_:)`` for a String: the kept bytes are copied straight into the new string's
    /// storage (a signature's `b=` is a few hundred bytes, usually folded).
    static func removingWhitespace(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes -> String? in
            guard let first = bytes.firstIndex(where: isWhitespace) else { return nil }
            return String(unsafeUninitializedCapacity: bytes.count) { output in
                var count = 0
                for index in 0..<first {
                    output[count] = bytes[index]
                    count += 1
                }
                for index in first..<bytes.count where !isWhitespace(bytes[index]) {
                    output[count] = bytes[index]
                    count += 1
                }
                return count
            }
        } ?? text
    }

    /// SP, HT and the CR LF of folding: tag-lists allow FWS around and inside values.
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 13 || byte == 10 }
    static func isAlpha(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }
    static func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }
}

extension DKIMTagList {
    /// Equality of names and values only: regions depend on the spelling of the input, not its meaning.
    public func sameTags(as other: DKIMTagList) -> Bool {
        tags.map { [$0.name, $0.value] } == other.tags.map { [$0.name, $0.value] }
    }
}
