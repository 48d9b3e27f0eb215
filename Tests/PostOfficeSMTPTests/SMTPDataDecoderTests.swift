// SMTPDataDecoderTests: the DATA decoder gives the same result however its input is split (byte by byte,
// all at once, seeded random splits), only CRLF.CRLF ends the data (smuggling matrix at every split
// offset), and size and line limits are enforced without buffering.

import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPDataDecoderTests {
    struct Result: Equatable {
        var content: [UInt8]
        var consumed: Int
        var isComplete: Bool
    }

    /// Decodes `input` cut at `cuts`, stopping at the end marker like the engine does.
    static func decode(
        _ input: [UInt8], cuts: [Int], maximumMessageSize: Int = 1 << 20, maximumLineLength: Int? = nil
    ) -> (Result, SMTPDataDecoder) {
        var decoder = SMTPDataDecoder(maximumMessageSize: maximumMessageSize, maximumLineLength: maximumLineLength)
        var result = Result(content: [], consumed: 0, isComplete: false)
        var start = 0
        for cut in cuts.sorted() + [input.count] where cut >= start {
            let output = decoder.decode(input[start..<cut])
            result.content += output.content
            result.consumed += output.consumedCount
            start = cut
            if output.isComplete {
                result.isComplete = true
                break
            }
        }
        return (result, decoder)
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let sample = bytes(
        "Subject: test\r\n\r\n..stuffed\r\n.x\r\nbare\nLF\r\nbare\rCR\r\n\r\n.\r\n\r\n..\r\nlast\r\n.\r\nNEXT COMMAND\r\n"
    )
    static let sampleContent = bytes(
        "Subject: test\r\n\r\n.stuffed\r\nx\r\nbare\r\nLF\r\nbare\rCR\r\n\r\n")

    @Test func allAtOnce() {
        let (result, _) = Self.decode(Self.sample, cuts: [])
        #expect(result.isComplete)
        // The first CRLF.CRLF ends the data: ". CR LF" after the empty line.
        #expect(result.content == Self.sampleContent)
        #expect(
            result.consumed
                == Self.bytes("Subject: test\r\n\r\n..stuffed\r\n.x\r\nbare\nLF\r\nbare\rCR\r\n\r\n.\r\n").count)
    }

    @Test func oneByteAtATime() {
        let whole = Self.decode(Self.sample, cuts: []).0
        let drip = Self.decode(Self.sample, cuts: Array(0..<Self.sample.count)).0
        #expect(drip == whole)
    }

    @Test(arguments: 1...100)
    func randomSplits(seed: UInt64) {
        let random = SeededRandomSource(seed: seed)
        let input = Self.bytes("A\r\n..B\r\n.\rC\r\nD\nE\rF\r\r\n.\n.\r\n") + Self.sample
        let cuts = (0..<Int(random.next() % 12)).map { _ in Int(random.next() % UInt64(input.count + 1)) }
        #expect(Self.decode(input, cuts: cuts).0 == Self.decode(input, cuts: []).0)
    }

    /// Whole clean lines take a bulk path (memchr); a drip of single bytes never can. Random content over the
    /// bytes that matter (dot, CR, LF, text), with and without limits, must decode the same both ways: same
    /// content, consumed count, completion and failure flags.
    @Test(arguments: 1...200)
    func bulkLinesDecodeLikeSingleBytes(seed: UInt64) {
        let random = SeededRandomSource(seed: seed)
        let pieces = ["a", "bc d", ".", "\r", "\n", "\r\n", "\r\n.", "xy\r\n", "\r\n.\r\n", ".\r\n"]
        var input: [UInt8] = []
        for _ in 0..<Int(random.next() % 60) {
            input += Self.bytes(pieces[Int(random.next() % UInt64(pieces.count))])
        }
        input += Self.bytes("\r\n.\r\nQUIT\r\n")
        let size = random.next() % 3 == 0 ? Int(random.next() % 40) + 1 : 1 << 20
        let line: Int? = random.next() % 2 == 0 ? Int(random.next() % 8) + 2 : nil
        let (whole, wholeDecoder) = Self.decode(input, cuts: [], maximumMessageSize: size, maximumLineLength: line)
        let (drip, dripDecoder) = Self.decode(
            input, cuts: Array(0..<input.count), maximumMessageSize: size, maximumLineLength: line)
        #expect(whole.consumed == drip.consumed)
        #expect(whole.isComplete == drip.isComplete)
        #expect(wholeDecoder.isOversize == dripDecoder.isOversize)
        #expect(wholeDecoder.hasOverlongLine == dripDecoder.hasOverlongLine)
        #expect(wholeDecoder.octetCount == dripDecoder.octetCount)
        if !wholeDecoder.hasFailed { #expect(whole.content == drip.content) }
    }

    @Test func emptyMessage() {
        let (result, decoder) = Self.decode(Self.bytes(".\r\nQUIT\r\n"), cuts: [])
        #expect(result == Result(content: [], consumed: 3, isComplete: true))
        #expect(decoder.octetCount == 0)
    }

    @Test(arguments: [
        ("..\r\n.\r\n", ".\r\n"),
        (".a\r\n.\r\n", "a\r\n"),
        ("...\r\n.\r\n", "..\r\n"),
        ("a.\r\n.\r\n", "a.\r\n"),
        (". \r\n.\r\n", " \r\n"),
        (".\n.\r\n", ".\r\n.\r\n"),
        (".\r.\r\n", "\r.\r\n"),
        (".\rx\r\n.\r\n", "\rx\r\n"),
        (".\r\r\n.\r\n", "\r\r\n"),
        ("\r\r\n.\r\n", "\r\r\n"),
        ("a\r\r\r\n.\r\n", "a\r\r\r\n"),
        ("a\n\n.\r\n", "a\r\n\r\n.\r\n"),
        ("x\r\n.\r\n", "x\r\n"),
        ("\n.\r\n.\r\n", "\r\n.\r\n"),
    ])
    func decodingRules(input: String, content: String) {
        // A spare end marker follows, so an input whose own marker is not taken as one still completes.
        let full = Self.bytes(input) + Self.bytes(".\r\n")
        let (result, _) = Self.decode(full, cuts: [])
        #expect(result.isComplete)
        #expect(result.content == Self.bytes(content))
    }

    static let variants = ["\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n.\r\n"]

    /// Each variant embedded in a message, then commands a lax server would run, then the true end.
    @Test(arguments: variants)
    func smugglingMatrix(variant: String) {
        let head = Self.bytes("Subject: x\r\n\r\nbody")
        let tail = Self.bytes("MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nforged\r\n")
        let end = Self.bytes("\r\n.\r\n")
        let after = Self.bytes("QUIT\r\n")
        let input = head + Self.bytes(variant) + tail + Self.bytes("x") + end + after
        let isRealEnd = variant == "\r\n.\r\n"
        let expectedConsumed = isRealEnd ? head.count + variant.utf8.count : input.count - after.count
        let reference = Self.decode(input, cuts: []).0
        #expect(reference.isComplete)
        #expect(reference.consumed == expectedConsumed)
        if isRealEnd {
            #expect(reference.content == head + Self.bytes("\r\n"))
        } else {
            #expect(reference.content.count > head.count + tail.count)
        }
        for cut in 0...input.count {
            #expect(Self.decode(input, cuts: [cut]).0 == reference, "split at \(cut)")
        }
        for cut in 0..<input.count {
            #expect(Self.decode(input, cuts: [cut, cut + 1]).0 == reference, "split at \(cut), \(cut + 1)")
        }
    }

    @Test func contentAfterEndIsNotConsumed() {
        var decoder = SMTPDataDecoder(maximumMessageSize: 100)
        let output = decoder.decode(Self.bytes("a\r\n.\r\nb"))
        #expect(output.consumedCount == 6)
        #expect(output.isComplete)
        #expect(decoder.decode(Self.bytes("more")) == .init(content: [], consumedCount: 0, isComplete: true))
    }

    @Test func oversizeKeepsReadingToTheEndWithoutContent() {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 5000) + Self.bytes("\r\n")
        let input = body + body + Self.bytes(".\r\nNOOP\r\n")
        var decoder = SMTPDataDecoder(maximumMessageSize: 1000)
        var content = 0
        var consumed = 0
        var index = 0
        while index < input.count {
            let piece = input[index..<min(index + 700, input.count)]
            let output = decoder.decode(piece)
            content += output.content.count
            consumed += output.consumedCount
            index += piece.count
            if output.isComplete { break }
        }
        #expect(decoder.isOversize)
        #expect(decoder.isComplete)
        #expect(decoder.hasFailed)
        #expect(content <= 1000)
        #expect(decoder.octetCount == body.count * 2)
        #expect(consumed == input.count - 6)
    }

    @Test func exactlyTheLimitIsAccepted() {
        let input = Self.bytes("12345678\r\n.\r\n")
        let (result, decoder) = Self.decode(input, cuts: [], maximumMessageSize: 10)
        #expect(!decoder.isOversize)
        #expect(result.content == Self.bytes("12345678\r\n"))
        let (_, over) = Self.decode(input, cuts: [], maximumMessageSize: 9)
        #expect(over.isOversize)
    }

    @Test func longLines() {
        let input = Self.bytes("123456789\r\n1234567890\r\n.\r\n")
        let (_, fits) = Self.decode(input, cuts: [], maximumLineLength: 12)
        #expect(!fits.hasOverlongLine)
        let (result, over) = Self.decode(input, cuts: [], maximumLineLength: 11)
        #expect(over.hasOverlongLine)
        #expect(result.isComplete)
        let (_, unlimited) = Self.decode(input, cuts: [])
        #expect(!unlimited.hasFailed)
    }

    @Test func largeMessageStreamsInPieces() {
        let line = Self.bytes(String(repeating: "x", count: 78) + "\r\n")
        var decoder = SMTPDataDecoder(maximumMessageSize: 1 << 30)
        var total = 0
        for _ in 0..<2000 {
            let output = decoder.decode(line + line + line)
            #expect(output.content.count == line.count * 3)
            total += output.content.count
        }
        #expect(decoder.decode(Self.bytes(".\r\n")).isComplete)
        #expect(total == line.count * 6000)
    }
}
