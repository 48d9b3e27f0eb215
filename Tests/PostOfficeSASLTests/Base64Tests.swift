// Base64Tests: RFC 4648 test vectors both ways, round trips of every length, and strict rejection of
// bad alphabet, bad padding and non-canonical trailing bits.
import Testing

@testable import PostOfficeSASL

@Suite struct Base64Tests {
    /// RFC 4648 §10 test vectors, plus a PLAIN message.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"), ("\0alice\0secret", "AGFsaWNlAHNlY3JldA=="),
    ]

    @Test(arguments: vectors)
    func encodesVector(plain: String, encoded: String) {
        #expect(Base64.encodedString(Array(plain.utf8)) == encoded)
    }

    @Test(arguments: vectors)
    func decodesVector(plain: String, encoded: String) {
        #expect(Base64.decode(Array(encoded.utf8)) == Array(plain.utf8))
    }

    @Test func everyLengthAndByteRoundTrips() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        for length in 0...bytes.count {
            let input = Array(bytes.prefix(length))
            #expect(Base64.decode(Base64.encode(input)) == input)
        }
        #expect(Base64.decode(Base64.encode(Array(0...255))) == Array(0...255))
    }

    @Test(arguments: [
        "Y", "YQ=", "YQ", "Y===", "=YQ=", "YQ==YQ==", "YR==", "YWJ=", "YW*j", "YW\u{0}j", "YWJj\r\n", "YQ=a",
        "YW Jj", "YWJj=", "Zm9v-_==", "====",
    ])
    func rejectsMalformed(text: String) {
        #expect(Base64.decode(Array(text.utf8)) == nil)
    }
}
