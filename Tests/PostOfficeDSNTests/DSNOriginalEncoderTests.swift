// DSNOriginalEncoderTests: the streaming encoder — same output however the input is chunked, CRLF line
// ends, the header section only for HDRS, a boundary line defused, and a final line break supplied.

import PostOfficeDSN
import Testing

struct DSNOriginalEncoderTests {
    static let boundary = "=_dsn_0123456789abcdef0123456789abcdef"

    func encode(_ text: String, _ content: DSNReturnContent, chunk: Int = .max) -> (String, DSNOriginalEncoder) {
        var encoder = DSNOriginalEncoder(boundary: Self.boundary, content: content)
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            encoder.encode(bytes[start..<end], into: &out)
            start = end
        }
        out += encoder.finish()
        return (String(decoding: out, as: UTF8.self), encoder)
    }

    static let sample = "A: 1\nB: 2\r\n\r\nbody\rmore\n--" + boundary + "--\n--" + boundary.dropLast() + "\nend"

    @Test(arguments: [1, 2, 3, 7, 64])
    func chunkingDoesNotMatter(chunk: Int) {
        #expect(encode(Self.sample, .full, chunk: chunk).0 == encode(Self.sample, .full).0)
        #expect(encode(Self.sample, .headers, chunk: chunk).0 == encode(Self.sample, .headers).0)
    }

    @Test func fullMessageWithCRLFAndDefusedBoundary() {
        let (out, encoder) = encode(Self.sample, .full)
        #expect(
            out == "A: 1\r\nB: 2\r\n\r\nbody\r\nmore\r\n --" + Self.boundary + "--\r\n--" + Self.boundary.dropLast()
                + "\r\nend\r\n")
        #expect(encoder.boundaryCollisions == 1)
        #expect(!encoder.sawEightBit)
    }

    @Test func headersOnlyStopsAtTheEmptyLine() {
        let (out, encoder) = encode(Self.sample, .headers)
        #expect(out == "A: 1\r\nB: 2\r\n")
        #expect(encoder.isComplete)
    }

    @Test func eightBitIsNoticed() {
        #expect(encode("Subject: caf\u{E9}\n", .full).1.sawEightBit)
    }

    @Test func emptyOriginalStaysEmpty() {
        #expect(encode("", .full).0 == "")
    }
}
