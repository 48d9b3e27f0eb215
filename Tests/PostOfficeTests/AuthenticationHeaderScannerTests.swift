// AuthenticationHeaderScannerTests: the header scanner, which now reads a line at a time on bytes, finds the
// same From: values and forged Authentication-Results ranges as the byte-by-byte, String-per-field scanner it
// replaced (kept here as the reference), on folded and odd headers, in every split.

import Testing
@testable import PostOffice

struct AuthenticationHeaderScannerTests {
    /// The scanner as it was written before: the reference.
    struct ReferenceScanner {
        let authservID: String
        var fromValues: [String] = []
        var forgedRanges: [Range<Int>] = []
        var isComplete = false
        private var offset = 0
        private var fieldStart: Int?
        private var field: [UInt8] = []
        private var atLineStart = true

        init(authservID: String) { self.authservID = authservID.lowercased() }

        mutating func receive(_ bytes: [UInt8]) {
            guard !isComplete else {
                offset += bytes.count
                return
            }
            for (index, byte) in bytes.enumerated() {
                if atLineStart && byte != 32 && byte != 9 {
                    if let start = fieldStart { finishField(start: start, end: offset) }
                    fieldStart = nil
                    if byte == 13 || byte == 10 {
                        isComplete = true
                        offset += bytes.count - index
                        return
                    }
                    fieldStart = offset
                    field.removeAll(keepingCapacity: true)
                }
                if fieldStart != nil && field.count < AuthenticationHeaderScanner.fieldBytesKept { field.append(byte) }
                atLineStart = byte == 10
                offset += 1
            }
        }

        mutating func finish() {
            if !isComplete, let start = fieldStart { finishField(start: start, end: offset) }
            fieldStart = nil
            isComplete = true
        }

        private mutating func finishField(start: Int, end: Int) {
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return }
            var name = Substring(String(decoding: field[..<colon], as: UTF8.self))
            while let first = name.first, " \t".contains(first) { name = name.dropFirst() }
            while let last = name.last, " \t".contains(last) { name = name.dropLast() }
            var value = field[(colon + 1)...]
            while let last = value.last, last == 13 || last == 10 { value = value.dropLast() }
            switch name.lowercased() {
            case "from":
                fromValues.append(String(decoding: value, as: UTF8.self))
            case "authentication-results":
                if AuthenticationResultsHeader.authservID(ofValue: value) == authservID { forgedRanges.append(start..<end) }
            default:
                break
            }
        }
    }

    static let longValue = String(repeating: "x", count: AuthenticationHeaderScanner.fieldBytesKept + 100)

    static let messages: [String] = [
        "From: a@example.org\r\nAuthentication-Results: MX.test; spf=pass\r\n\r\nbody\r\n",
        "FROM : a@example.org\r\nfrom\t:\r\n b@example.org\r\n\r\n",
        "From\r\n : folded name\r\nAuthentication-Results\r\n\t: mx.test; none\r\nX: y\r\n\r\n",
        " continuation first\r\nFrom: a@example.org\r\n\r\n",
        "From: lf only\nAuthentication-Results: mx.test; none\n\nFrom: body@example.org\n",
        "From: no blank line at the end\r\nAuthentication-Results: mx.test; none",
        "From: bare cr\rAuthentication-Results: mx.test; none\r\n\r\n",
        "No colon in this line\r\nFrom:\r\nFrom:\r\n\r\n",
        "Fr\u{F6}m: x@example.org\r\nFrom\u{301}: y@example.org\r\n\u{212A}From: z@example.org\r\nAuthentication-Results: \"mx.test\"; none\r\n\r\n",
        "Authentication-Results: (comment) mx.test (another)\r\n ; spf=pass\r\nAuthentication-Results: mx.test.evil; none\r\n\r\n",
        "Authentication-Results-X: mx.test; none\r\nX-From: a@example.org\r\nfrom: \u{E9}t\u{E9}@example.org\r\n\r\n",
        "Subject: " + longValue + "\r\nFrom: after@example.org\r\n\r\n",
        "From: " + longValue + "\r\nAuthentication-Results: mx.test;" + longValue + "\r\n\r\n",
        "\r\nFrom: only body\r\n",
        "",
        "From: a@example.org\r\n \r\n\r\n",
        "From: a@example.org\r\n\tAuthentication-Results: mx.test; none\r\n\r\n",
        "Authentication-Results:mx.test\r\n\n",
    ]

    static func scan(_ bytes: [UInt8], chunkSize: Int) -> (from: [String], forged: [Range<Int>], reference: ReferenceScanner) {
        var scanner = AuthenticationHeaderScanner(authservID: "MX.Test")
        var reference = ReferenceScanner(authservID: "MX.Test")
        var start = 0
        while start < bytes.count {
            let chunk = Array(bytes[start..<min(bytes.count, start + chunkSize)])
            scanner.receive(chunk)
            reference.receive(chunk)
            #expect(scanner.isComplete == reference.isComplete)
            start += chunkSize
        }
        scanner.finish()
        reference.finish()
        return (scanner.fromValues, scanner.forgedRanges, reference)
    }

    @Test("as the reference in every split", arguments: [1, 2, 3, 5, 7, 13, 64, 1000, 100_000])
    func asTheReference(chunkSize: Int) {
        for message in Self.messages {
            let bytes = Array(message.utf8)
            guard chunkSize < 64 || bytes.count < 20_000 || chunkSize >= 1000 else { continue }
            let (from, forged, reference) = Self.scan(bytes, chunkSize: chunkSize)
            #expect(from == reference.fromValues, "\(message.prefix(80))")
            #expect(forged == reference.forgedRanges, "\(message.prefix(80))")
        }
    }

    @Test("known results for folded and odd headers")
    func knownResults() {
        let folded = Self.scan(Array(Self.messages[2].utf8), chunkSize: 4)
        #expect(folded.from == [])  // a name folded before its colon is not `From`
        #expect(folded.forged == [])
        let spaced = Self.scan(Array(Self.messages[1].utf8), chunkSize: 100)
        #expect(spaced.from == [" a@example.org", "\r\n b@example.org"])
        let lineFeeds = Self.scan(Array(Self.messages[4].utf8), chunkSize: 3)
        #expect(lineFeeds.from == [" lf only"])
        #expect(lineFeeds.forged == [14..<52])
        let unicode = Self.scan(Array(Self.messages[8].utf8), chunkSize: 9)
        #expect(unicode.from == [])
        #expect(unicode.forged.count == 1)
        let comments = Self.scan(Array(Self.messages[9].utf8), chunkSize: 1)
        #expect(comments.forged == [0..<66])
        let long = Self.scan(Array(Self.messages[12].utf8), chunkSize: 500)
        #expect(long.from.first?.utf8.count == AuthenticationHeaderScanner.fieldBytesKept - 5)
        #expect(long.forged.count == 1)
        let unterminated = Self.scan(Array(Self.messages[5].utf8), chunkSize: 7)
        #expect(unterminated.forged == [32..<Self.messages[5].utf8.count])
    }
}
