// SMTPReplyHarness: the payload is parsed whole and in header-chosen chunks with small limits (so the
// line-length and line-count bounds are reached). Both runs must agree; each reply must round-trip.

import PostOfficeFuzzSupport
import PostOfficeSMTP

enum SMTPReplyHarness {
    static let maximumLineLength = 96
    static let maximumLineCount = 6

    /// Header bytes 0-3: chunk sizes for the split run; the rest is the server's output.
    static func check(_ bytes: [UInt8]) {
        let input = FuzzInput(bytes, headerCount: 4)
        let whole = parse([input.payload[...]])
        let split = parse(FuzzInput.chunks(of: input.payload, seeds: input.header))
        precondition(whole.replies == split.replies, "replies depend on how the input was split")
        precondition(whole.error == split.error, "the error depends on how the input was split")
        for reply in whole.replies { checkRoundTrip(reply) }
    }

    private static func parse(_ chunks: [ArraySlice<UInt8>]) -> (replies: [SMTPReply], error: SMTPReplyParserError?) {
        var parser = SMTPReplyParser(maximumLineLength: maximumLineLength, maximumLineCount: maximumLineCount)
        var replies: [SMTPReply] = []
        do throws(SMTPReplyParserError) {
            for chunk in chunks {
                parser.append(chunk)
                while let reply = try parser.nextReply() { replies.append(reply) }
            }
            return (replies, nil)
        } catch {
            // Errors are final: the parser must say so again, and hold nothing.
            parser.append(Array("250 ok\r\n".utf8))
            do throws(SMTPReplyParserError) {
                _ = try parser.nextReply()
                preconditionFailure("a parser that failed read on")
            } catch let again {
                precondition(again == error, "a failed parser changed its error")
            }
            precondition(parser.bufferedByteCount == 0, "a failed parser holds bytes")
            return (replies, error)
        }
    }

    /// A reply read is well-formed, and its wire form reads back as itself (TAB, which the parser accepts
    /// in text, is written as a space by SMTPReply.wireBytes).
    private static func checkRoundTrip(_ reply: SMTPReply) {
        precondition((200...559).contains(reply.code), "reply code out of range")
        precondition((1...maximumLineCount).contains(reply.lines.count), "line count out of bounds")
        if let enhanced = reply.enhancedCode {
            precondition(enhanced.statusClass == reply.code / 100, "enhanced class differs from the code")
        }
        var parser = SMTPReplyParser(maximumLineLength: 4 * maximumLineLength, maximumLineCount: maximumLineCount)
        parser.append(reply.wireBytes)
        let expected = SMTPReply(
            code: reply.code, enhancedCode: reply.enhancedCode,
            lines: reply.lines.map { String($0.map { $0 == "\t" ? " " : $0 }) })
        do throws(SMTPReplyParserError) {
            let again = try parser.nextReply()
            precondition(again == expected, "a reply did not read back as itself: \(reply)")
            let extra = try parser.nextReply()
            precondition(extra == nil && parser.bufferedByteCount == 0, "a reply's wire form left bytes over")
        } catch {
            preconditionFailure("a reply's own wire form failed to parse: \(error)")
        }
    }
}
