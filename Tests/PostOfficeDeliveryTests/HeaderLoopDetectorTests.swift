// HeaderLoopDetectorTests: Delivered-To and Received-count loops, folded fields, CRLF, header-only scope,
// every possible chunk split, and the inspection cap.

import Testing
@testable import PostOfficeDelivery

@Suite struct HeaderLoopDetectorTests {
    static func scan(_ message: String, chunk: Int = .max, recipients: [String] = ["alice@example.org"], limit: Int = 256 * 1024)
        -> HeaderLoopDetector
    {
        var detector = HeaderLoopDetector(recipients: recipients, maximumReceivedCount: 25, maximumInspectedBytes: limit)
        let all = Array(message.utf8)
        var index = 0
        while index < all.count {
            let end = min(all.count, index + max(1, min(chunk, all.count)))
            detector.inspect(Array(all[index..<end]))
            index = end
        }
        detector.finish()
        return detector
    }

    static let received = String(repeating: "Received: from x by y; date\n", count: 26)

    static let cases: [(String, String, HeaderLoopDetector.Finding?)] = [
        ("clean", "Subject: hi\nDelivered-To: bob@example.org\n\nbody\n", nil),
        ("match", "Subject: hi\nDelivered-To: alice@example.org\n\nbody\n", .deliveredTo("alice@example.org")),
        ("case", "DELIVERED-TO:   <ALICE@Example.ORG>  \n\n", .deliveredTo("alice@example.org")),
        ("crlf", "Subject: x\r\nDelivered-To: alice@example.org\r\n\r\nbody\r\n", .deliveredTo("alice@example.org")),
        ("folded", "Delivered-To:\n alice@example.org\nSubject: x\n\n", .deliveredTo("alice@example.org")),
        ("foldedTab", "Delivered-To: <alice@example.org\n\t>\n\n", .deliveredTo("alice@example.org")),
        ("foldedInsideAddress", "Delivered-To: alice@\n example.org\n\n", .deliveredTo("alice@example.org")),
        ("inBody", "Subject: x\n\nDelivered-To: alice@example.org\n", nil),
        ("inBodyCRLF", "Subject: x\r\n\r\nDelivered-To: alice@example.org\r\n", nil),
        ("lastHeaderNoNewline", "Delivered-To: alice@example.org", .deliveredTo("alice@example.org")),
        ("prefixName", "X-Delivered-To: alice@example.org\n\n", nil),
        ("spaceBeforeColon", "Delivered-To : alice@example.org\n\n", .deliveredTo("alice@example.org")),
        ("substring", "Delivered-To: malice@example.org\n\n", nil),
        ("receivedOk", String(repeating: "Received: from x by y; date\n", count: 25) + "\n", nil),
        ("receivedTooMany", received + "\n", .tooManyReceived(26)),
        ("receivedFolded", String(repeating: "Received: from x\n\tby y; date\n", count: 26) + "\n", .tooManyReceived(26)),
        ("receivedCase", String(repeating: "rEcEiVeD: x\n", count: 26) + "\n", .tooManyReceived(26)),
        ("receivedInBody", "Subject: x\n\n" + received, nil),
        ("noColonLine", "From sender Mon Jan 1\nDelivered-To: alice@example.org\n\n", .deliveredTo("alice@example.org")),
    ]

    @Test(arguments: cases)
    func findsLoops(_ name: String, _ message: String, _ expected: HeaderLoopDetector.Finding?) {
        #expect(Self.scan(message).finding == expected, "\(name)")
    }

    @Test(arguments: cases)
    func everyChunkSplitGivesTheSameAnswer(_ name: String, _ message: String, _ expected: HeaderLoopDetector.Finding?) {
        for chunk in [1, 2, 3, 5, 13] {
            #expect(Self.scan(message, chunk: chunk).finding == expected, "\(name) chunk \(chunk)")
        }
    }

    @Test func inspectionStopsAtTheCap() {
        let filler = "X-Filler: " + String(repeating: "a", count: 2000) + "\n"
        let late = filler + "Delivered-To: alice@example.org\n\n"
        #expect(Self.scan(late, limit: 1000).finding == nil)
        #expect(Self.scan(late, limit: 1000).isFinished)
        #expect(Self.scan(late, limit: 10_000).finding == .deliveredTo("alice@example.org"))
    }

    @Test func overlongValuesAndNamesAreBounded() {
        let longValue = "Delivered-To: " + String(repeating: "x", count: 100_000) + "alice@example.org\n\n"
        #expect(Self.scan(longValue, chunk: 4096).finding == nil)
        let longName = String(repeating: "N", count: 10_000) + "Delivered-To: alice@example.org\n\n"
        #expect(Self.scan(longName, chunk: 4096).finding == nil)
    }

    @Test func finishesAtTheEmptyLine() {
        var detector = HeaderLoopDetector(recipients: ["a@b"])
        detector.inspect(Array("Subject: x\n".utf8))
        #expect(!detector.isFinished)
        detector.inspect(Array("\nReceived: x\n".utf8))
        #expect(detector.isFinished)
        #expect(detector.receivedCount == 0)
    }
}
