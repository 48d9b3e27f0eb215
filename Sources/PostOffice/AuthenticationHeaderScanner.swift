// AuthenticationHeaderScanner: watches a message's header section go by (in any split, keeping only the
// field being read) for what mail authentication needs from it: the From: values for DMARC, and where the
// Authentication-Results fields that claim our authserv-id lie, so they can be left out on delivery.

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
        for (index, byte) in bytes.enumerated() {
            if atLineStart && byte != 32 && byte != 9 {
                // A new line that is not a continuation: the field before it is whole.
                if let start = fieldStart { finishField(start: start, end: offset) }
                fieldStart = nil
                if byte == 13 || byte == 10 {
                    isComplete = true  // the empty line: the rest is body
                    offset += bytes.count - index
                    return
                }
                fieldStart = offset
                field.removeAll(keepingCapacity: true)
            }
            if fieldStart != nil && field.count < Self.fieldBytesKept { field.append(byte) }
            atLineStart = byte == 10
            offset += 1
        }
    }

    /// Ends the message: a message that is all header section ends its last field here.
    mutating func finish() {
        if !isComplete, let start = fieldStart { finishField(start: start, end: offset) }
        fieldStart = nil
        isComplete = true
    }

    private mutating func finishField(start: Int, end: Int) {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: field[..<colon], as: UTF8.self).trimmingCharacters(in: " \t").lowercased()
        var value = field[(colon + 1)...]
        while let last = value.last, last == 13 || last == 10 { value = value.dropLast() }
        switch name {
        case "from":
            fromValues.append(String(decoding: value, as: UTF8.self))
        case "authentication-results":
            if AuthenticationResultsHeader.authservID(ofValue: value) == authservID { forgedRanges.append(start..<end) }
        default:
            break
        }
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, set.contains(last) { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
