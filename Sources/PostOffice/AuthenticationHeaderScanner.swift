// AuthenticationHeaderScanner: watches a message's header section go by (in any split, keeping only the
// field being read) for what mail authentication needs from it: the From: values for DMARC, and where the
// Authentication-Results fields that claim our authserv-id lie, so they can be left out on delivery.

#if canImport(Glibc)
import Glibc
#endif

/// Scans the header section of one message streamed through it.
struct AuthenticationHeaderScanner {
    /// Our authserv-id, lower-cased.
    let authservID: String
    /// The values of the From: fields (unfolding left to the address parser).
    private(set) var fromValues: [String] = []
    /// Byte ranges (from the start of the message) of forged Authentication-Results fields, CRLF included.
    private(set) var forgedRanges: [Range<Int>] = []
    /// True once the blank line that ends the header section has been seen.
    private(set) var isComplete = false

    /// Bytes of one field kept to read its name and value; a longer field is judged by its beginning.
    static let fieldBytesKept = 16 * 1024
    private var offset = 0
    private var fieldStart: Int?
    private var field: [UInt8] = []
    private var atLineStart = true

    init(authservID: String) {
        self.authservID = authservID.lowercased()
    }

    mutating func receive(_ bytes: [UInt8]) {
        guard !isComplete else {
            offset += bytes.count
            return
        }
        bytes.withUnsafeBufferPointer { receive(line: $0) }
    }

    /// Goes through `bytes` a line (or the part of one in this chunk) at a time: only a line's first byte
    /// decides anything (a new field, a continuation, the blank line); the rest is copied into `field` whole.
    private mutating func receive(line bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var index = 0
        while index < count {
            if atLineStart {
                let byte = base[index]
                if byte != 32 && byte != 9 {
                    // A new line that is not a continuation: the field before it is whole.
                    if let start = fieldStart { finishField(start: start, end: offset + index) }
                    fieldStart = nil
                    if byte == 13 || byte == 10 {
                        isComplete = true  // the empty line: the rest is body
                        offset += count
                        return
                    }
                    fieldStart = offset + index
                    field.removeAll(keepingCapacity: true)
                }
            }
            // To the end of the line (its LF included), or of the chunk.
            let end: Int
            if let newline = memchr(base + index, 10, count - index) {
                end = base.distance(to: newline.assumingMemoryBound(to: UInt8.self)) + 1
                atLineStart = true
            } else {
                end = count
                atLineStart = false
            }
            if fieldStart != nil && field.count < Self.fieldBytesKept {
                let kept = min(end - index, Self.fieldBytesKept - field.count)
                field.append(contentsOf: UnsafeBufferPointer(start: base + index, count: kept))
            }
            index = end
        }
        offset += count
    }

    /// Ends the message: a message that is all header section ends its last field here.
    mutating func finish() {
        if !isComplete, let start = fieldStart { finishField(start: start, end: offset) }
        fieldStart = nil
        isComplete = true
    }

    /// Reads the kept bytes of the field that lay at `start..<end`: its name (white space around it ignored,
    /// ASCII letters in any case) and, for the two fields that matter, its value without the line break.
    private mutating func finishField(start: Int, end: Int) {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return }
        var nameStart = 0
        var nameEnd = colon
        while nameStart < nameEnd, field[nameStart] == 32 || field[nameStart] == 9 { nameStart += 1 }
        while nameEnd > nameStart, field[nameEnd - 1] == 32 || field[nameEnd - 1] == 9 { nameEnd -= 1 }
        let name = field[nameStart..<nameEnd]
        guard name.count == 4 || name.count == 22 else { return }
        var valueEnd = field.count
        while valueEnd > colon + 1, field[valueEnd - 1] == 13 || field[valueEnd - 1] == 10 { valueEnd -= 1 }
        let value = field[(colon + 1)..<valueEnd]
        if Self.equalsIgnoringASCIICase(name, Self.from) {
            fromValues.append(String(decoding: value, as: UTF8.self))
        } else if Self.equalsIgnoringASCIICase(name, Self.authenticationResults) {
            if AuthenticationResultsHeader.authservID(ofValue: value) == authservID { forgedRanges.append(start..<end) }
        }
    }

    private static let from = Array("from".utf8)
    private static let authenticationResults = Array("authentication-results".utf8)

    /// True when `bytes` is `lowercase` with any of its ASCII letters upper-case. (No non-ASCII text folds or
    /// normalizes to the letters of these names, so this is what comparing lower-cased Strings found.)
    static func equalsIgnoringASCIICase(_ bytes: ArraySlice<UInt8>, _ lowercase: [UInt8]) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for (byte, expected) in zip(bytes, lowercase) {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
            if folded != expected { return false }
        }
        return true
    }
}
