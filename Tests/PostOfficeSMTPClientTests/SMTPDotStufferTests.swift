// SMTPDotStufferTests: DATA transparency and line-end repair, the same output for every split of the input,
// and BDAT mode (line ends only).

import PostOfficeSMTPClient
import Testing

@Suite struct SMTPDotStufferTests {
    static func encode(_ text: String, cuts: [Int] = [], stuffsDots: Bool = true) -> String {
        var stuffer = SMTPDotStuffer(stuffsDots: stuffsDots)
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            out += stuffer.encode(bytes[start..<cut])
            start = cut
        }
        out += stuffer.finish()
        #expect(stuffer.octetsWritten == out.count)
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: [
        ("", ".\r\n"),
        ("a", "a\r\n.\r\n"),
        ("a\n", "a\r\n.\r\n"),
        ("a\r\n", "a\r\n.\r\n"),
        (".", "..\r\n.\r\n"),
        (".\n.\n", "..\r\n..\r\n.\r\n"),
        ("a.\n.b\n..c\r\n", "a.\r\n..b\r\n...c\r\n.\r\n"),
        ("x\ry\n", "x\ry\r\n.\r\n"),
        ("end\r", "end\r\n.\r\n"),
        ("\n.\n", "\r\n..\r\n.\r\n"),
    ])
    func stuffsEveryLineStartingWithADot(input: String, expected: String) {
        #expect(Self.encode(input) == expected)
        let length = input.utf8.count
        for cut in 0...length { #expect(Self.encode(input, cuts: [cut]) == expected) }
        #expect(Self.encode(input, cuts: Array(0...length)) == expected)
    }

    @Test func bdatModeRepairsLineEndsOnly() {
        #expect(Self.encode(".a\nb", stuffsDots: false) == ".a\r\nb\r\n")
        #expect(Self.encode("", stuffsDots: false) == "")
    }
}
