// POP3ByteStufferTests: message streaming must give identical output for any chunking, stuff leading
// dots, normalise line endings, and cut TOP at the right line.
import PostOfficeCore
import Testing
@testable import PostOfficePOP3

@Suite struct POP3ByteStufferTests {
    static func encode(_ message: [UInt8], limit: Int? = nil, cuts: [Int] = []) -> (output: String, stopped: Bool) {
        var stuffer = POP3ByteStuffer(bodyLineLimit: limit)
        var output: [UInt8] = []
        var start = 0
        var stopped = false
        for cut in cuts + [message.count] where cut >= start {
            if !stuffer.encode(message[start..<cut], into: &output) {
                stopped = true
                break
            }
            start = cut
        }
        stuffer.finish(into: &output)
        return (String(decoding: output, as: UTF8.self), stopped)
    }

    static func encode(_ message: String, limit: Int? = nil, cuts: [Int] = []) -> String {
        encode(Array(message.utf8), limit: limit, cuts: cuts).output
    }

    static let cases: [(String, String)] = [
        ("", ".\r\n"),
        ("a\n", "a\r\n.\r\n"),
        ("a", "a\r\n.\r\n"),
        ("a\r\n", "a\r\n.\r\n"),
        ("a\r", "a\r\n.\r\n"),
        ("a\rb\n", "a\rb\r\n.\r\n"),
        ("\n\n", "\r\n\r\n.\r\n"),
        (".\n", "..\r\n.\r\n"),
        ("..x\n.\n", "...x\r\n..\r\n.\r\n"),
        ("x.\n.y", "x.\r\n..y\r\n.\r\n"),
        ("Subject: hi\n\nbody\n.\nend", "Subject: hi\r\n\r\nbody\r\n..\r\nend\r\n.\r\n"),
        ("mixed\r\nlf\nend\r\n", "mixed\r\nlf\r\nend\r\n.\r\n"),
    ]

    @Test(arguments: cases)
    func encodesAllAtOnce(message: String, expected: String) {
        #expect(Self.encode(message) == expected)
    }

    @Test(arguments: cases)
    func encodesDripFed(message: String, expected: String) {
        let bytes = Array(message.utf8)
        #expect(Self.encode(bytes, cuts: Array(0..<bytes.count)).output == expected)
    }

    static let sample = Array(
        "From: a@b\nSubject: dots\r\n\n.leading\n..two\r\nplain\n\n.\nlast line no newline.".utf8)

    @Test(arguments: 1...60)
    func randomSplitsGiveIdenticalOutput(seed: UInt64) {
        let random = SeededRandomSource(seed: seed)
        let whole = Self.encode(Self.sample).output
        let cuts = (0..<Int(random.next() % 12)).map { _ in Int(random.next() % UInt64(Self.sample.count + 1)) }.sorted()
        #expect(Self.encode(Self.sample, cuts: cuts).output == whole)
        for limit in [0, 1, 3, 100] {
            #expect(Self.encode(Self.sample, limit: limit, cuts: cuts).output == Self.encode(Self.sample, limit: limit).output)
        }
    }

    @Test(arguments: [
        (0, "H: 1\r\nH: 2\r\n\r\n.\r\n"),
        (1, "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n"),
        (2, "H: 1\r\nH: 2\r\n\r\nb1\r\n\r\n.\r\n"),
        (3, "H: 1\r\nH: 2\r\n\r\nb1\r\n\r\n..b3\r\n.\r\n"),
        (4, "H: 1\r\nH: 2\r\n\r\nb1\r\n\r\n..b3\r\nb4\r\n.\r\n"),
        (50, "H: 1\r\nH: 2\r\n\r\nb1\r\n\r\n..b3\r\nb4\r\n.\r\n"),
    ])
    func topLimitsBodyLines(limit: Int, expected: String) {
        let message = "H: 1\nH: 2\n\nb1\n\n.b3\nb4"
        #expect(Self.encode(message, limit: limit) == expected)
        let bytes = Array(message.utf8)
        #expect(Self.encode(bytes, limit: limit, cuts: Array(0..<bytes.count)).output == expected)
    }

    @Test func topWithCRLFSeparator() {
        #expect(Self.encode("H: 1\r\n\r\nb1\r\nb2\r\n", limit: 1) == "H: 1\r\n\r\nb1\r\n.\r\n")
        #expect(Self.encode("H: 1\r\n\r\nb1\r\n", limit: 0) == "H: 1\r\n\r\n.\r\n")
    }

    @Test func topStopsReadingOnceLimitIsReached() {
        let (output, stopped) = Self.encode(Array("H: 1\n\nb1\nb2\nb3\n".utf8), limit: 1, cuts: [3, 6, 9, 12])
        #expect(stopped)
        #expect(output == "H: 1\r\n\r\nb1\r\n.\r\n")
        let (_, neverStopped) = Self.encode(Array("H: 1\n\nb1\n".utf8), cuts: [3, 6])
        #expect(!neverStopped)
    }

    @Test func headerOnlyMessageIsSentWhole() {
        #expect(Self.encode("H: 1\nH: 2\n", limit: 0) == "H: 1\r\nH: 2\r\n.\r\n")
        #expect(Self.encode("H: 1\nH: 2", limit: 5) == "H: 1\r\nH: 2\r\n.\r\n")
    }

    @Test func negativeLimitActsAsZero() {
        #expect(Self.encode("H\n\nb\n", limit: -3) == "H\r\n\r\n.\r\n")
    }

    @Test func largeMessageMatchesNaiveEncoding() {
        let random = SeededRandomSource(seed: 42)
        let alphabet = Array("ab.\r\n\n\n.x ".utf8)
        let message = (0..<20_000).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
        var cuts: [Int] = []
        var position = 0
        while position < message.count {
            position += 1 + Int(random.next() % 3000)
            cuts.append(min(position, message.count))
        }
        #expect(Self.encode(message, cuts: cuts).output == String(decoding: Self.naive(message), as: UTF8.self))
    }

    /// RETR steps 16 bytes at a time between line feeds: lines of every length from 0 to 70 (a CR before
    /// some line feeds, a dot starting some lines, a bare CR inside some) and chunks cut at every offset
    /// around a 16-byte step, so line feeds fall at each place in a step and a chunk can end inside one.
    @Test(arguments: [1, 2, 15, 16, 17, 31, 32, 33, 47, 64, 4096])
    func longLinesMatchNaiveEncodingInEveryChunking(chunk: Int) {
        let random = SeededRandomSource(seed: UInt64(chunk))
        var message: [UInt8] = []
        for length in 0...70 {
            for variant in 0..<4 {
                var line = (0..<length).map { _ in UInt8(ascii: "a") + UInt8(random.next() % 26) }
                if variant == 1 && !line.isEmpty { line[0] = UInt8(ascii: ".") }
                if variant == 2 { line.append(13) }
                if variant == 3 && line.count > 2 { line[line.count / 2] = 13 }
                message += line + [10]
            }
        }
        message += Array("last line without a line feed, longer than sixteen bytes".utf8)
        let cuts = Array(stride(from: chunk, to: message.count, by: chunk))
        #expect(Self.encode(message, cuts: cuts).output == String(decoding: Self.naive(message), as: UTF8.self))
    }

    /// The wire form byte at a time, straight from the rules (RFC 1939 §3).
    static func naive(_ message: [UInt8]) -> [UInt8] {
        var naive: [UInt8] = []
        var atStart = true
        var previous: UInt8 = 0
        for byte in message {
            if atStart && byte == UInt8(ascii: ".") { naive.append(byte) }
            if byte == 10 && previous != 13 { naive.append(13) }
            naive.append(byte)
            atStart = byte == 10
            previous = byte
        }
        if !atStart { naive += previous == 13 ? [10] : [13, 10] }
        naive += Array(".\r\n".utf8)
        return naive
    }
}

@Suite struct POP3MessageSizeCounterTests {
    /// The stuffer's output without the added dots and the ".\r\n" terminator.
    static func reference(_ message: [UInt8]) -> Int {
        var stuffer = POP3ByteStuffer(bodyLineLimit: nil)
        var output: [UInt8] = []
        stuffer.encode(message, into: &output)
        stuffer.finish(into: &output)
        let lines = output.split(separator: 10, omittingEmptySubsequences: false).dropLast(2)
        let dots = lines.filter { $0.first == UInt8(ascii: ".") }.count
        return output.count - 3 - dots
    }

    @Test(arguments: ["", "a", "a\n", "a\r\n", "a\r", "\n\n", ".x\n", "a\rb\nc", "H: 1\r\n\r\nbody"])
    func matchesStufferOutput(message: String) {
        let bytes = Array(message.utf8)
        var whole = POP3MessageSizeCounter()
        whole.add(bytes)
        var dripped = POP3MessageSizeCounter()
        for byte in bytes { dripped.add([byte]) }
        #expect(whole.octets == Self.reference(bytes))
        #expect(dripped.octets == whole.octets)
    }

    @Test func randomChunking() {
        let random = SeededRandomSource(seed: 7)
        let alphabet = Array("ab.\r\n\n".utf8)
        let message = (0..<5000).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
        var counter = POP3MessageSizeCounter()
        var offset = 0
        while offset < message.count {
            let end = min(message.count, offset + 1 + Int(random.next() % 200))
            counter.add(message[offset..<end])
            offset = end
        }
        #expect(counter.octets == Self.reference(message))
    }
}
