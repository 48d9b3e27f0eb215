// POP3ResponseTests: wire form of responses and multi-line blocks, and unique-id repair (base64 is
// tested with PostOfficeSASL).
import Testing
@testable import PostOfficePOP3

@Suite struct POP3ResponseTests {
    static func string(_ bytes: [UInt8]?) -> String { String(decoding: bytes ?? [], as: UTF8.self) }

    @Test(arguments: [
        (POP3Response.ok("hello"), "+OK hello\r\n"),
        (POP3Response.okay, "+OK\r\n"),
        (POP3Response.error("bad"), "-ERR bad\r\n"),
        (POP3Response.maildropInUse, "-ERR [IN-USE] Maildrop is locked by another session\r\n"),
        (POP3Response.ok("a\r\nb"), "+OK a  b\r\n"),
        (POP3Response.error("x\n", code: "A\rB"), "-ERR [A B] x \r\n"),
        (POP3Response.emptyContinuation, "+ \r\n"),
    ])
    func wireForm(response: POP3Response, expected: String) {
        #expect(Self.string(response.wireBytes) == expected)
    }

    @Test func plaintextRefusalNamesTLS() {
        let text = Self.string(POP3Response.plaintextDisallowed.wireBytes)
        #expect(text == "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections (use TLS)\r\n")
    }

    @Test func multilineWireForm() {
        let action = POP3Action.sendMultiline(.ok("list"), lines: [Array("1 10".utf8), Array("..x".utf8)])
        #expect(Self.string(action.wireBytes) == "+OK list\r\n1 10\r\n..x\r\n.\r\n")
        #expect(Self.string(POP3Action.sendMultiline(.ok("none"), lines: []).wireBytes) == "+OK none\r\n.\r\n")
        #expect(POP3Action.close.wireBytes == nil)
    }

    @Test(arguments: ["a", "whqtswO00WBw418f9t5JxYwZ", String(repeating: "x", count: 70), "!~"])
    func validUniqueIDsAreKept(id: String) {
        #expect(POP3MessageInfo.isValidUniqueID(id))
        #expect(POP3MessageInfo.sanitizedUniqueID(id) == id)
    }

    @Test(arguments: ["", "has space", String(repeating: "y", count: 71), "tab\there", "caf\u{E9}", "ctl\u{7F}"])
    func invalidUniqueIDsAreRepairedDeterministically(id: String) {
        #expect(!POP3MessageInfo.isValidUniqueID(id))
        let repaired = POP3MessageInfo.sanitizedUniqueID(id)
        #expect(POP3MessageInfo.isValidUniqueID(repaired))
        #expect(POP3MessageInfo.sanitizedUniqueID(id) == repaired)
    }

    @Test func repairKeepsDistinctIDsDistinct() {
        let a = POP3MessageInfo.sanitizedUniqueID("same prefix 1")
        let b = POP3MessageInfo.sanitizedUniqueID("same prefix 2")
        let c = POP3MessageInfo.sanitizedUniqueID(String(repeating: "z", count: 71))
        let d = POP3MessageInfo.sanitizedUniqueID(String(repeating: "z", count: 72))
        #expect(a != b)
        #expect(c != d)
        #expect(a.hasPrefix("sameprefix1~"))
    }
}
