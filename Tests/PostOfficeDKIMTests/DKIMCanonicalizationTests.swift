// DKIMCanonicalizationTests: body canonicalization (RFC 6376 §3.4.3, §3.4.4, l=) checked against the
// canonical text itself, fed whole, a byte at a time and in random splits; header canonicalization §3.4.1/2.

import PostOfficeDKIM
import Testing

@Suite("DKIM canonicalization")
struct DKIMCanonicalizationTests {
    /// (body, simple canonical form, relaxed canonical form)
    static let bodies: [(String, String, String)] = [
        ("", "\r\n", ""),
        ("\r\n", "\r\n", ""),
        ("\r\n\r\n\r\n", "\r\n", ""),
        ("abc", "abc\r\n", "abc\r\n"),
        ("abc\r\n", "abc\r\n", "abc\r\n"),
        ("abc\r\n\r\n\r\n", "abc\r\n", "abc\r\n"),
        (" C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n", " C\r\nD E\r\n"),
        ("a\r\n \t \r\n\r\nb\r\n  \r\n", "a\r\n \t \r\n\r\nb\r\n  \r\n", "a\r\n\r\n\r\nb\r\n"),
        ("x\ry\r\n", "x\ry\r\n", "x\ry\r\n"),
        ("bare\nlf\n\n", "bare\r\nlf\r\n", "bare\r\nlf\r\n"),
        ("ends in cr\r", "ends in cr\r\r\n", "ends in cr\r\r\n"),
        ("caf\u{E9}  \u{2603}\t\r\n", "caf\u{E9}  \u{2603}\t\r\n", "caf\u{E9} \u{2603}\r\n"),
        // Single spaces between words (kept in one run under relaxed) next to runs, tabs, line ends, bare CR.
        ("one two three\r\n", "one two three\r\n", "one two three\r\n"),
        ("a b  c d\t e f \r\n", "a b  c d\t e f \r\n", "a b c d e f\r\n"),
        ("a b\r\nc d \r\n e\r\n", "a b\r\nc d \r\n e\r\n", "a b\r\nc d\r\n e\r\n"),
        ("a b\rc d\r\n", "a b\rc d\r\n", "a b\rc d\r\n"),
        ("x y\nz w", "x y\r\nz w\r\n", "x y\r\nz w\r\n"),
        ("x y \tz", "x y \tz\r\n", "x y z\r\n"),
    ]

    static func hash(_ body: [UInt8], _ algorithm: DKIMCanonicalization, limit: Int? = nil, sizes: [Int]) -> [UInt8] {
        var hasher = DKIMBodyHasher(canonicalization: algorithm, lengthLimit: limit)
        for piece in DKIMTestSupport.split(body, sizes: sizes) { hasher.update(piece) }
        return hasher.finalize()
    }

    @Test("body canonical forms in any split", arguments: bodies.indices)
    func bodyForms(index: Int) {
        let (body, simple, relaxed) = Self.bodies[index]
        let bytes = Array(body.utf8)
        for sizes in [[], [1], [2], [3], DKIMTestSupport.randomSizes(seed: UInt64(index)), DKIMTestSupport.randomSizes(seed: 99, maximum: 5)] {
            #expect(Self.hash(bytes, .simple, sizes: sizes) == DKIMSHA256.hash(simple.utf8), "simple \(sizes)")
            #expect(Self.hash(bytes, .relaxed, sizes: sizes) == DKIMSHA256.hash(relaxed.utf8), "relaxed \(sizes)")
        }
    }

    @Test("RFC 6376 §3.4.5 example body")
    func rfcExample() {
        let body = Array(" C \r\nD \t E\r\n\r\n\r\n".utf8)
        var hasher = DKIMBodyHasher(canonicalization: .relaxed)
        hasher.update(body)
        #expect(hasher.canonicalLength == 0 || true)
        #expect(hasher.finalize() == DKIMSHA256.hash(" C\r\nD E\r\n".utf8))
    }

    @Test("l= hashes only the first octets, and counts them all", arguments: [0, 1, 5, 12, 100])
    func bodyLength(limit: Int) {
        let body = Array("hello  world\r\nsecond line\r\n\r\n".utf8)
        let canonical = Array("hello world\r\nsecond line\r\n".utf8)
        for sizes in [[], [1], DKIMTestSupport.randomSizes(seed: UInt64(limit))] {
            var hasher = DKIMBodyHasher(canonicalization: .relaxed, lengthLimit: limit)
            for piece in DKIMTestSupport.split(body, sizes: sizes) { hasher.update(piece) }
            #expect(hasher.finalize() == DKIMSHA256.hash(canonical.prefix(limit)))
            #expect(hasher.canonicalLength == canonical.count)
        }
    }

    @Test("a large body streams with the same hash as one update")
    func largeBody() {
        var line = Array(repeating: UInt8(ascii: "x"), count: 997) + [32, 13, 10]
        line[10] = 9
        var whole = DKIMBodyHasher(canonicalization: .relaxed)
        var expected = DKIMSHA256()
        for _ in 0..<2000 {
            whole.update(line)
            expected.update(Array(line[0..<10]) + [32] + Array(line[11..<997]) + [13, 10])
        }
        #expect(whole.finalize() == expected.finalize())
    }

    /// The canonical body written out the plain way, line by line (a line ends at CRLF or a bare LF; a bare
    /// CR is content): the reference the streaming hasher, with its fast stretches, must agree with.
    static func reference(_ body: [UInt8], _ algorithm: DKIMCanonicalization) -> [UInt8] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var index = 0
        while index < body.count {
            let byte = body[index]
            if byte == 10 || (byte == 13 && index + 1 < body.count && body[index + 1] == 10) {
                lines.append(current)
                current = []
                index += byte == 13 ? 2 : 1
                continue
            }
            current.append(byte)
            index += 1
        }
        if !current.isEmpty { lines.append(current) }
        if algorithm == .relaxed {
            lines = lines.map { line in
                var out: [UInt8] = []
                var inSpace = false
                for byte in line {
                    if byte == 32 || byte == 9 {
                        inSpace = true
                        continue
                    }
                    if inSpace { out.append(32) }
                    inSpace = false
                    out.append(byte)
                }
                return out
            }
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        if lines.isEmpty { return algorithm == .simple ? [13, 10] : [] }
        return lines.flatMap { $0 + [13, 10] }
    }

    /// Random bodies built from the pieces canonicalization cares about (long clean prose, single and double
    /// spaces, tabs, CRLF, bare CR and LF, empty lines, whitespace at line ends), in random splits and with
    /// `l=` limits: the same hash and length as the reference.
    @Test("random bodies match the line-by-line reference", arguments: 0..<40)
    func randomBodies(seed: Int) {
        let pieces = [
            "word", "x", " ", "  ", "\t", " \t ", "\r\n", "\r\n\r\n", "\r", "\n", "\r\r\n", " \r\n", "\t\r\n",
            String(repeating: "lorem ipsum dolor sit amet, ", count: 30) + "\r\n", "caf\u{E9}",
        ].map { Array($0.utf8) }
        var generator = SeededGenerator(seed: UInt64(seed))
        var body: [UInt8] = []
        for _ in 0..<Int.random(in: 0...300, using: &generator) { body += pieces[Int.random(in: 0..<pieces.count, using: &generator)] }
        for algorithm in [DKIMCanonicalization.simple, .relaxed] {
            let canonical = Self.reference(body, algorithm)
            for sizes in [[], DKIMTestSupport.randomSizes(seed: UInt64(seed), maximum: 7), DKIMTestSupport.randomSizes(seed: UInt64(seed) + 1, maximum: 3000)] {
                var hasher = DKIMBodyHasher(canonicalization: algorithm)
                for piece in DKIMTestSupport.split(body, sizes: sizes) { hasher.update(piece) }
                #expect(hasher.finalize() == DKIMSHA256.hash(canonical), "\(algorithm) seed \(seed) sizes \(sizes.prefix(3))")
                #expect(hasher.canonicalLength == canonical.count)
                let limit = canonical.count / 2
                var limited = DKIMBodyHasher(canonicalization: algorithm, lengthLimit: limit)
                for piece in DKIMTestSupport.split(body, sizes: sizes) { limited.update(piece) }
                #expect(limited.finalize() == DKIMSHA256.hash(canonical.prefix(limit)), "l=\(limit)")
            }
        }
    }

    /// Regular text: lines of one length (1–100 bytes, so the line ends fall on every lane of the 32-byte
    /// step), with and without a space in each line, whole and in odd splits.
    @Test("bodies of equal lines match the reference at every line length", arguments: 1...100)
    func equalLines(length: Int) {
        for withSpace in [false, true] {
            var line = Array(repeating: UInt8(ascii: "x"), count: length)
            if withSpace && length > 2 { line[length / 2] = 32 }
            let body = Array((0..<60).map { _ in line + [13, 10] }.joined()) + Array("the end\r\n".utf8)
            for algorithm in [DKIMCanonicalization.simple, .relaxed] {
                let canonical = Self.reference(body, algorithm)
                for sizes in [[], [7], [1000], [33, 64]] {
                    var hasher = DKIMBodyHasher(canonicalization: algorithm)
                    for piece in DKIMTestSupport.split(body, sizes: sizes) { hasher.update(piece) }
                    #expect(hasher.finalize() == DKIMSHA256.hash(canonical), "\(algorithm) length \(length) sizes \(sizes)")
                }
            }
        }
    }

    /// Short bodies of single bytes from a small alphabet, dense in what the eight-byte scan must judge (an SP
    /// or CR LF in every position of a word, before ordinary bytes or not, control bytes), fed whole.
    /// The second alphabet is mostly ordinary bytes and bodies reach 160 bytes, so the 32-byte step (which lets
    /// CR LF + content through) is taken and stopped in every lane.
    @Test("dense short bodies match the reference in every byte position", arguments: 0..<8)
    func denseBodies(seed: Int) {
        let alphabets: [([UInt8], Int)] = [
            ([97, 98, 32, 32, 9, 13, 10, 13, 10, 1, 0xC3], 48),
            ([97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 32, 32, 32, 13, 10, 13, 10, 13, 10, 9, 0xC3], 160),
        ]
        var generator = SeededGenerator(seed: UInt64(seed) + 1000)
        for (alphabet, longest) in alphabets {
        for _ in 0..<400 {
            let body = (0..<Int.random(in: 0...longest, using: &generator)).map { _ in
                alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
            }
            for algorithm in [DKIMCanonicalization.simple, .relaxed] {
                let canonical = Self.reference(body, algorithm)
                var hasher = DKIMBodyHasher(canonicalization: algorithm)
                hasher.update(body)
                #expect(hasher.finalize() == DKIMSHA256.hash(canonical), "\(algorithm) \(body)")
            }
        }
        }
    }

    @Test("header canonicalization", arguments: [
        ("Subject: Is dinner ready?\r\n", "Subject: Is dinner ready?\r\n", "subject:Is dinner ready?\r\n"),
        ("SUBJECT \t:  a  \r\n\t b \t\r\n", "SUBJECT \t:  a  \r\n\t b \t\r\n", "subject:a b\r\n"),
        ("X-Empty:\r\n", "X-Empty:\r\n", "x-empty:\r\n"),
    ])
    func headers(raw: String, simple: String, relaxed: String) throws {
        let field = try #require(DKIMHeaderField(raw: Array(raw.utf8)))
        #expect(field.canonicalized(.simple) == Array(simple.utf8))
        #expect(field.canonicalized(.relaxed) == Array(relaxed.utf8))
    }

    @Test("header fields split with folding, selected bottom-up, over-signed names select nothing")
    func selection() {
        let section = Array("From: a\r\nSubject: one\r\n two\r\nTo: x\r\nsubject: three\r\n".utf8)
        let fields = DKIMHeaderField.fields(of: section)
        #expect(fields.map(\.name) == ["From", "Subject", "To", "subject"])
        let selected = DKIMHeaderField.select(["subject", "Subject", "SUBJECT", "from", "cc"], from: fields)
        #expect(selected.map { String(decoding: $0.raw, as: UTF8.self) }
            == ["subject: three\r\n", "Subject: one\r\n two\r\n", "From: a\r\n"])
    }

    @Test("SHA-256 copies are independent")
    func hashCopies() {
        var first = DKIMSHA256()
        first.update("abc".utf8)
        var second = first
        second.update("def".utf8)
        #expect(first.finalize() == DKIMSHA256.hash("abc".utf8))
        #expect(second.finalize() == DKIMSHA256.hash("abcdef".utf8))
    }
}
