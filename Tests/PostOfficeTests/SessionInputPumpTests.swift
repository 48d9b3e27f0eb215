// SessionInputPumpTests: the driver runner both protocol sessions share — a line at a time, message content
// in bulk, nothing while suspended or while the client does not read, no recursion when a step feeds again,
// and STARTTLS's discard.

@testable import PostOffice
import Testing

@Suite struct SessionInputPumpTests {
    private func text(_ piece: ArraySlice<UInt8>) -> String { String(decoding: piece, as: UTF8.self) }

    @Test func pipelinedCommandsGoOneLineAtATime() {
        let pump = SessionInputPump()
        pump.append(Array("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDA".utf8))
        var pieces: [String] = []
        let held = pump.feed(wholeRun: { false }, canContinue: { true }, step: { pieces.append(text($0)) })
        #expect(pieces == ["EHLO x\r\n", "MAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\r\n", "DA"])
        #expect(!held)
        #expect(pump.isEmpty)
    }

    @Test func messageContentGoesInBulk() {
        let pump = SessionInputPump()
        pump.append(Array("line 1\r\nline 2\r\n.\r\nQUIT\r\n".utf8))
        var pieces: [String] = []
        pump.feed(wholeRun: { true }, canContinue: { true }, step: { pieces.append(text($0)) })
        #expect(pieces == ["line 1\r\nline 2\r\n.\r\nQUIT\r\n"])
    }

    @Test func nothingIsFedWhileSuspendedOrWhileOutputBacksUp() {
        let pump = SessionInputPump()
        pump.append(Array("NOOP\r\nNOOP\r\nNOOP\r\n".utf8))
        pump.isSuspended = true
        var steps = 0
        #expect(pump.feed(wholeRun: { false }, canContinue: { true }, step: { _ in steps += 1 }))
        #expect(steps == 0)
        pump.isSuspended = false
        // The client stops reading after the first reply: the rest stays held (and reading stops).
        #expect(pump.feed(wholeRun: { false }, canContinue: { steps < 1 }, step: { _ in steps += 1 }))
        #expect(steps == 1)
        #expect(pump.count == "NOOP\r\nNOOP\r\n".utf8.count)
        #expect(!pump.feed(wholeRun: { false }, canContinue: { true }, step: { _ in steps += 1 }))
        #expect(steps == 3)
    }

    @Test func aStepThatFeedsAgainDoesNotRecurse() {
        let pump = SessionInputPump()
        pump.append(Array(String(repeating: "RETR 1\r\n", count: 5000).utf8))
        var depth = 0
        var deepest = 0
        var steps = 0
        func feed() {
            pump.feed(wholeRun: { false }, canContinue: { true }) { _ in
                depth += 1
                deepest = max(deepest, depth)
                steps += 1
                feed()  // a small RETR completes at once and its driver feeds again
                depth -= 1
            }
        }
        feed()
        #expect(steps == 5000)
        #expect(deepest == 1)
    }

    /// Drip-fed a byte at a time, the engine sees the same bytes in the same order.
    @Test(arguments: [1, 2, 3, 7, 64])
    func splitsDoNotChangeWhatTheEngineSees(_ size: Int) {
        let input = Array("EHLO x\r\nMAIL FROM:<a@b>\r\n\r\nNOOP\r\nQUIT".utf8)
        let pump = SessionInputPump()
        var seen: [UInt8] = []
        var start = 0
        while start < input.count {
            pump.append(Array(input[start..<min(start + size, input.count)]))
            start += size
            pump.feed(wholeRun: { false }, canContinue: { true }, step: { seen += $0 })
        }
        #expect(seen == input)
    }

    @Test func startTLSDiscardsWhatWasSentInTheClear() {
        let pump = SessionInputPump()
        pump.append(Array("STARTTLS\r\nRCPT TO:<injected@example.test>\r\n".utf8))
        var pieces: [String] = []
        pump.feed(wholeRun: { false }, canContinue: { true }) { piece in
            pieces.append(text(piece))
            if text(piece).hasPrefix("STARTTLS") { pump.removeAll() }
        }
        #expect(pieces == ["STARTTLS\r\n"])
        #expect(pump.isEmpty)
    }
}
