// DNSStreamFramerTests: RFC 7766 length framing — every split point and a byte-at-a-time drip give the
// same messages, in order, and nothing before a frame is complete.

import Testing
@testable import PostOfficeDNS

@Suite struct DNSStreamFramerTests {
    static let messages: [[UInt8]] = [Array(0..<12), [], Array(repeating: 0xAB, count: 300), [1]]
    static let stream = messages.flatMap { DNSStreamFramer.frame($0) }

    @Test func framePrefixesBigEndianLength() {
        #expect(DNSStreamFramer.frame(Array(repeating: 0, count: 300)).prefix(2) == [1, 44])
    }

    @Test func everySplitOffsetYieldsTheSameMessages() {
        for split in 0...Self.stream.count {
            var framer = DNSStreamFramer()
            var out: [[UInt8]] = []
            framer.append(Self.stream[..<split])
            while let message = framer.nextMessage() { out.append(message) }
            framer.append(Self.stream[split...])
            while let message = framer.nextMessage() { out.append(message) }
            #expect(out == Self.messages, "split at \(split)")
            #expect(framer.bufferedCount == 0)
        }
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func dripFeedYieldsMessagesOnlyWhenComplete(chunk: Int) {
        var framer = DNSStreamFramer()
        var out: [[UInt8]] = []
        var fed = 0
        while fed < Self.stream.count {
            let next = Self.stream[fed..<min(fed + chunk, Self.stream.count)]
            framer.append(next)
            fed += next.count
            while let message = framer.nextMessage() { out.append(message) }
            // Never more messages than whole frames fed so far.
            #expect(out.count <= Self.frameEnds.filter { $0 <= fed }.count)
        }
        #expect(out == Self.messages)
    }

    static let frameEnds: [Int] = {
        var ends: [Int] = []
        var total = 0
        for message in messages {
            total += message.count + 2
            ends.append(total)
        }
        return ends
    }()

    @Test func longStreamsCompactTheBuffer() {
        var framer = DNSStreamFramer()
        let frame = DNSStreamFramer.frame(Array(repeating: 7, count: 1000))
        for _ in 0..<100 {
            framer.append(frame)
            #expect(framer.nextMessage()?.count == 1000)
        }
        #expect(framer.bufferedCount == 0)
    }
}
