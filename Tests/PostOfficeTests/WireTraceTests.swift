// WireTraceTests (framing): secrets split across reads — a byte at a time, `PA` then `SS secret` — never
// reach the `--verbose` trace; SASL responses after AUTH are redacted for every mechanism (issue 19, D4).

import Testing

@testable import PostOffice

@Suite struct WireTraceFramingTests {
    /// Feeds `text` in pieces of `size` bytes and collects every line logged.
    static func trace(_ text: String, pieces size: Int, into trace: inout WireTrace) -> [String] {
        let bytes = Array(text.utf8)
        var lines: [String] = []
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + size)
            lines += trace.clientLines(Array(bytes[index..<end]))
            index = end
        }
        return lines
    }

    static func trace(_ text: String, pieces size: Int) -> [String] {
        var wire = WireTrace()
        return trace(text, pieces: size, into: &wire)
    }

    static let secret = "hunter2"
    /// base64("\0alice\0hunter2") and base64("hunter2").
    static let plainResponse = "AGFsaWNlAGh1bnRlcjI="
    static let loginPassword = "aHVudGVyMg=="

    @Test(arguments: [1, 2, 3, 5, 1000])
    func passSplitAnywhereIsRedacted(size: Int) {
        let lines = Self.trace("USER alice\r\nPASS \(Self.secret)\r\nSTAT\r\n", pieces: size)
        #expect(lines == ["USER alice", "PASS <redacted>", "STAT"])
    }

    @Test func passSplitAfterPAIsRedacted() {
        var wire = WireTrace()
        #expect(wire.clientLines(Array("PA".utf8)).isEmpty)
        #expect(wire.clientLines(Array("SS \(Self.secret)\r\n".utf8)) == ["PASS <redacted>"])
    }

    @Test(arguments: [1, 4, 1000])
    func authPlainByteAtATimeIsRedacted(size: Int) {
        let withContinuation = Self.trace("AUTH PLAIN\r\n\(Self.plainResponse)\r\nNOOP\r\n", pieces: size)
        #expect(withContinuation == ["AUTH PLAIN <redacted>", "<redacted>", "NOOP"])
        let initial = Self.trace("AUTH PLAIN \(Self.plainResponse)\r\nNOOP\r\n", pieces: size)
        #expect(initial == ["AUTH PLAIN <redacted>", "NOOP"])
    }

    @Test(arguments: [1, 1000])
    func authLoginRedactsBothResponses(size: Int) {
        let lines = Self.trace("auth login\r\nYWxpY2U=\r\n\(Self.loginPassword)\r\nQUIT\r\n", pieces: size)
        #expect(lines == ["AUTH login <redacted>", "<redacted>", "<redacted>", "QUIT"])
        let initial = Self.trace("AUTH LOGIN YWxpY2U=\r\n\(Self.loginPassword)\r\nQUIT\r\n", pieces: size)
        #expect(initial == ["AUTH LOGIN <redacted>", "<redacted>", "QUIT"])
    }

    @Test func anUnknownMechanismIsRedactedUntilACommand() {
        let lines = Self.trace("AUTH SCRAM-SHA-256 biwsbj1hbGljZQ==\r\nYz1iaXdz\r\ncD1zZWNyZXQ=\r\n\r\nMAIL FROM:<a@b.example>\r\n", pieces: 1)
        #expect(lines == ["AUTH SCRAM-SHA-256 <redacted>", "<redacted>", "<redacted>", "<redacted>", "MAIL FROM:<a@b.example>"])
    }

    @Test func aCancelledExchangeEndsTheRedaction() {
        let lines = Self.trace("AUTH LOGIN\r\n*\r\nNOOP\r\n", pieces: 1)
        #expect(lines == ["AUTH LOGIN <redacted>", "<redacted>", "NOOP"])
    }

    @Test func aLongSecretLineIsCutAndItsTailNeverShown() {
        let tail = "TAILSECRET"
        let line = "PASS " + String(repeating: "x", count: 3000) + tail + "\r\nNOOP\r\n"
        for size in [1, 700, 5000] {
            let lines = Self.trace(line, pieces: size)
            #expect(lines.first?.hasPrefix("PASS <redacted>") == true, "\(size)")
            #expect(lines.last == "NOOP")
            #expect(!lines.joined().contains(tail), "\(size)")
            #expect(!lines.joined().contains("xxx"), "\(size)")
        }
    }

    @Test func aLongOrdinaryLineIsShownCut() {
        let lines = Self.trace(String(repeating: "a", count: 5000) + "\r\nNOOP\r\n", pieces: 512)
        #expect(lines.count == 2)
        #expect(lines[0].count < 300)
        #expect(lines[1] == "NOOP")
    }

    @Test func anUnfinishedLineIsNotLoggedYet() {
        var wire = WireTrace()
        #expect(wire.clientLines(Array("PASS hunt".utf8)).isEmpty)
        #expect(wire.clientLines(Array("er2".utf8)).isEmpty)
        #expect(wire.clientLines(Array("\n".utf8)) == ["PASS <redacted>"])
    }

    @Test func apopDigestIsRedacted() {
        #expect(Self.trace("APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n", pieces: 3) == ["APOP alice <redacted>"])
    }
}
