// LineFramerTests: framing is checked byte by byte, all at once, and in random splits.
import Testing
@testable import PostOfficeCore

@Suite struct LineFramerTests {
    static let input = Array("EHLO a\r\nMAIL FROM:<x@y>\nNOOP\r\n".utf8)
    static let expected: [LineFramer.Frame] = [
        .line(Array("EHLO a".utf8)), .line(Array("MAIL FROM:<x@y>".utf8)), .line(Array("NOOP".utf8)),
    ]

    static func frames(splitting input: [UInt8], at cuts: [Int], limit: Int = 512) -> [LineFramer.Frame] {
        var framer = LineFramer(maximumLineLength: limit)
        var out: [LineFramer.Frame] = []
        var start = 0
        for cut in cuts + [input.count] where cut >= start {
            framer.append(input[start..<cut])
            start = cut
            while let f = framer.nextFrame() { out.append(f) }
        }
        return out
    }

    @Test func allAtOnce() {
        #expect(Self.frames(splitting: Self.input, at: []) == Self.expected)
    }

    @Test func oneByteAtATime() {
        #expect(Self.frames(splitting: Self.input, at: Array(0..<Self.input.count)) == Self.expected)
    }

    @Test(arguments: 1...50) func randomSplits(seed: UInt64) {
        let rng = SeededRandomSource(seed: seed)
        let cuts = (0..<5).map { _ in Int(rng.next() % UInt64(Self.input.count)) }.sorted()
        #expect(Self.frames(splitting: Self.input, at: cuts) == Self.expected)
    }

    @Test func incompleteIsNotInvalid() {
        var framer = LineFramer(maximumLineLength: 512)
        framer.append(Array("NOOP".utf8))
        #expect(framer.nextFrame() == nil)
        framer.append([13])
        #expect(framer.nextFrame() == nil)
        framer.append([10])
        #expect(framer.nextFrame() == .line(Array("NOOP".utf8)))
    }

    @Test func overlongLineIsReportedOnceAndSkipped() {
        var framer = LineFramer(maximumLineLength: 8)
        framer.append(Array("ABCDEFGHIJKLMNOP".utf8))
        #expect(framer.nextFrame() == .tooLong)
        #expect(framer.nextFrame() == nil)
        framer.append(Array("QRS\r\nNOOP\r\n".utf8))
        #expect(framer.nextFrame() == .line(Array("NOOP".utf8)))
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func lineOfExactlyTheLimitIsAccepted() {
        var framer = LineFramer(maximumLineLength: 6)
        framer.append(Array("NOOP\r\nNOOPX\r\n".utf8))
        #expect(framer.nextFrame() == .line(Array("NOOP".utf8)))
        #expect(framer.nextFrame() == .tooLong)
    }

    @Test func takeBufferedReturnsUnframedBytes() {
        var framer = LineFramer(maximumLineLength: 512)
        framer.append(Array("DATA\r\nSubject: x\r\n".utf8))
        #expect(framer.nextFrame() == .line(Array("DATA".utf8)))
        #expect(framer.takeBuffered() == Array("Subject: x\r\n".utf8))
        #expect(framer.nextFrame() == nil)
    }
}
