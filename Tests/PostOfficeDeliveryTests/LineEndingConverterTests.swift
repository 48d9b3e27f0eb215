// LineEndingConverterTests: CRLF → LF with bare CR and bare LF kept, at every chunk boundary, and the W= count;
// a randomized comparison against the obvious byte-at-a-time conversion.

import Testing
import PostOfficeCore
@testable import PostOfficeDelivery

@Suite struct LineEndingConverterTests {
    static func convert(_ input: [UInt8], chunk: Int) -> ([UInt8], LineEndingConverter) {
        var converter = LineEndingConverter()
        var output: [UInt8] = []
        var index = 0
        while index < input.count {
            let end = min(input.count, index + chunk)
            Array(input[index..<end]).withUnsafeBytes { converter.convert($0, into: &output) }
            index = end
        }
        converter.finish(into: &output)
        return (output, converter)
    }

    static let cases: [(String, String)] = [
        ("a\r\nb\r\n", "a\nb\n"),
        ("a\nb\n", "a\nb\n"),
        ("a\rb\r\n", "a\rb\n"),
        ("\r\r\n", "\r\n"),
        ("\r", "\r"),
        ("x\r", "x\r"),
        ("\r\n\r\n", "\n\n"),
        ("\n\r", "\n\r"),
        ("", ""),
        ("no newline", "no newline"),
    ]

    @Test(arguments: cases)
    func convertsAtEveryBoundary(_ input: String, _ expected: String) {
        for chunk in [1, 2, 3, 64] {
            let (output, converter) = Self.convert(Array(input.utf8), chunk: chunk)
            #expect(output == Array(expected.utf8), "chunk \(chunk)")
            #expect(converter.storedSize == expected.utf8.count)
            #expect(converter.virtualSize == expected.utf8.count + expected.utf8.filter { $0 == 0x0A }.count)
        }
    }

    @Test func virtualSizeEqualsTheCRLFInputSize() {
        let input = Array("Subject: x\r\n\r\nline one\r\nline two\r\n".utf8)
        let (_, converter) = Self.convert(input, chunk: 5)
        #expect(converter.virtualSize == input.count)
    }

    /// The obvious byte-at-a-time conversion, as the reference.
    static func reference(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < input.count {
            if input[index] == 0x0D && index + 1 < input.count && input[index + 1] == 0x0A {
                index += 1
                continue
            }
            out.append(input[index])
            index += 1
        }
        return out
    }

    @Test func randomInputsAndChunkingsMatchTheReference() {
        let random = SeededRandomSource(seed: 42)
        let alphabet: [UInt8] = [0x61, 0x0D, 0x0A, 0x62]
        for _ in 0..<300 {
            let length = Int(random.next() % 200)
            let input = (0..<length).map { _ in alphabet[Int(random.next() % 4)] }
            var converter = LineEndingConverter()
            var output: [UInt8] = []
            var index = 0
            while index < input.count {
                let end = min(input.count, index + 1 + Int(random.next() % 17))
                Array(input[index..<end]).withUnsafeBytes { converter.convert($0, into: &output) }
                index = end
            }
            converter.finish(into: &output)
            let expected = Self.reference(input)
            #expect(output == expected)
            #expect(converter.virtualSize == expected.count + expected.filter { $0 == 0x0A }.count)
        }
    }
}
