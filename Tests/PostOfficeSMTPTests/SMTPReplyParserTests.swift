// SMTPReplyParserTests: every catalogue reply reads back as itself, whole, a byte at a time and split at
// every offset; multi-line and enhanced-code forms; and a table of invalid or oversized replies.

import PostOfficeCore
import Testing

@testable import PostOfficeSMTP

@Suite struct SMTPReplyParserTests {
    static let catalogue: [SMTPReply] = [
        .ok, .senderOk, .recipientOk, .messageAccepted(id: "4Xy9"), .chunkReceived(octets: 42), .closing, .help,
        .cannotVerify, .startMailInput, .readyToStartTLS, .shuttingDown, .timeout, .tooManyErrors,
        .tooMuchPipelinedInput, .temporaryFailure, .tooManyRecipients, .unknownCommand, .invalidCharacters,
        .lineTooLong, .syntaxError, .badSenderSyntax, .badRecipientSyntax, .verifyDisabled, .expandDisabled,
        .commandNotImplemented, .badSequence, .needHello, .needMail, .nestedMail, .needRecipient, .dataNotAllowed,
        .unknownUser, .relayDenied, .senderRejected, .messageTooBig, .utf8AddressNotPermitted, .noValidRecipients,
        .talkedBeforeGreeting, .unknownParameter,
        SMTPReply(220, nil, "mx.example.test ESMTP PostOffice"),
        SMTPCapabilities(configuration: SMTPServerConfiguration(hostname: "mx.example.test"))
            .extendedHelloReply(hostname: "mx.example.test"),
        SMTPReply(334, nil, ""), SMTPReply(334, nil, "VXNlcm5hbWU6"),
        SMTPReply(250, EnhancedStatusCode(2, 0, 0), ""),
    ]

    /// Parses `bytes` fed in pieces cut at `cuts`.
    static func parse(_ bytes: [UInt8], cuts: [Int] = [], parser: SMTPReplyParser = SMTPReplyParser()) throws(
        SMTPReplyParserError
    ) -> [SMTPReply] {
        var parser = parser
        var replies: [SMTPReply] = []
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            parser.append(bytes[start..<cut])
            start = cut
            while let reply = try parser.nextReply() { replies.append(reply) }
        }
        return replies
    }

    @Test(arguments: catalogue)
    func catalogueReplyReadsBackAsItself(reply: SMTPReply) throws {
        #expect(try Self.parse(reply.wireBytes) == [reply])
        // A byte at a time: nothing before the last byte, then exactly the reply.
        #expect(try Self.parse(reply.wireBytes, cuts: Array(0..<reply.wireBytes.count)) == [reply])
    }

    @Test func everySplitOffsetOfAPipelinedStream() throws {
        let replies = Array(Self.catalogue.prefix(6)) + [Self.catalogue[40], .help]
        let stream = replies.flatMap(\.wireBytes)
        for first in 0...stream.count {
            #expect(try Self.parse(stream, cuts: [first]) == replies)
        }
        for first in stride(from: 0, through: stream.count, by: 7) {
            for second in stride(from: first, through: stream.count, by: 5) {
                #expect(try Self.parse(stream, cuts: [first, second]) == replies)
            }
        }
    }

    @Test func incompleteIsNotAnError() throws {
        var parser = SMTPReplyParser()
        parser.append(Array("250-mx.example.test\r\n250-PIPE".utf8))
        #expect(try parser.nextReply() == nil)
        parser.append(Array("LINING\r\n250 SIZE 10".utf8))
        #expect(try parser.nextReply() == nil)
        parser.append(Array("\r\n".utf8))
        #expect(try parser.nextReply() == SMTPReply(code: 250, enhancedCode: nil, lines: ["mx.example.test", "PIPELINING", "SIZE 10"]))
        #expect(try parser.nextReply() == nil)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test(arguments: [
        ("250\r\n", SMTPReply(code: 250, enhancedCode: nil, lines: [""])),
        ("250 \r\n", SMTPReply(code: 250, enhancedCode: nil, lines: [""])),
        ("220 mx ESMTP\n", SMTPReply(220, nil, "mx ESMTP")),
        ("250 2.1.5\r\n", SMTPReply(250, EnhancedStatusCode(2, 1, 5), "")),
        ("550 5.1.1 No such user\r\n", SMTPReply(550, EnhancedStatusCode(5, 1, 1), "No such user")),
        ("550 5.123.456 Long\r\n", SMTPReply(550, EnhancedStatusCode(5, 123, 456), "Long")),
        // Class differs from the code: plain text, not an enhanced code (RFC 2034 §4).
        ("550 2.1.1 odd\r\n", SMTPReply(550, nil, "2.1.1 odd")),
        ("250 2.1.1x odd\r\n", SMTPReply(250, nil, "2.1.1x odd")),
        ("250 2.1234.1 odd\r\n", SMTPReply(250, nil, "2.1234.1 odd")),
        ("354 Go ahead\r\n", SMTPReply(354, nil, "Go ahead")),
        ("250-2.0.0 a\r\n250 b\r\n", SMTPReply(250, EnhancedStatusCode(2, 0, 0), "a", "b")),
        ("250-2.0.0 a\r\n250 2.0.1 b\r\n", SMTPReply(250, EnhancedStatusCode(2, 0, 0), "a", "2.0.1 b")),
        ("250 tab\there\r\n", SMTPReply(250, nil, "tab\there")),
        ("250 grüße\r\n", SMTPReply(250, nil, "grüße")),
    ])
    func readsForms(wire: String, reply: SMTPReply) throws {
        #expect(try Self.parse(Array(wire.utf8)) == [reply])
    }

    @Test(arguments: [
        ("25 x\r\n", SMTPReplyParserError.invalidCode),
        ("\r\n", .invalidCode),
        ("abc ok\r\n", .invalidCode),
        ("150 ok\r\n", .invalidCode),
        ("260 ok\r\n", .invalidCode),
        ("650 ok\r\n", .invalidCode),
        ("2500 ok\r\n", .invalidSeparator),
        ("250_ok\r\n", .invalidSeparator),
        ("250ok\r\n", .invalidSeparator),
        ("250-a\r\n251 b\r\n", .mixedCodes(expected: 250, found: 251)),
        ("250-a\r\n550-b\r\n250 c\r\n", .mixedCodes(expected: 250, found: 550)),
        ("250-a\r\nb\r\n", .invalidCode),
        ("250 a\u{0}b\r\n", .invalidText),
        ("250 a\rb\r\n", .invalidText),
        ("250 a\u{7F}\r\n", .invalidText),
        ("250 \(String(repeating: "x", count: 60))\r\n", .lineTooLong(limit: 64)),
        ("250 \(String(repeating: "x", count: 70))", .lineTooLong(limit: 64)),
        (String(repeating: "250-x\r\n", count: 4) + "250 y\r\n", .tooManyLines(limit: 4)),
        (String(repeating: "250-x\r\n", count: 4), .tooManyLines(limit: 4)),
    ])
    func rejectsInvalid(wire: String, error: SMTPReplyParserError) {
        let parser = SMTPReplyParser(maximumLineLength: 64, maximumLineCount: 4)
        #expect(throws: error) { try Self.parse(Array(wire.utf8), parser: parser) }
        // Drip-fed, the same error (an overlong line is seen before its end arrives).
        #expect(throws: error) {
            try Self.parse(Array(wire.utf8), cuts: Array(0..<wire.utf8.count), parser: parser)
        }
    }

    @Test func invalidUTF8IsRejected() {
        #expect(throws: SMTPReplyParserError.invalidText) { try Self.parse([50, 53, 48, 32, 0xC3, 13, 10]) }
    }

    @Test func errorsAreFinalAndMemoryStaysBounded() throws {
        var parser = SMTPReplyParser(maximumLineLength: 64, maximumLineCount: 4)
        parser.append(Array(repeating: UInt8(ascii: "2"), count: 65))
        #expect(throws: SMTPReplyParserError.lineTooLong(limit: 64)) { try parser.nextReply() }
        parser.append(Array("250 ok\r\n".utf8))
        #expect(throws: SMTPReplyParserError.lineTooLong(limit: 64)) { try parser.nextReply() }
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func exactlyTheLimitsAreAccepted() throws {
        let parser = SMTPReplyParser(maximumLineLength: 64, maximumLineCount: 4)
        let longest = "250 " + String(repeating: "x", count: 58) + "\r\n"
        #expect(try Self.parse(Array(longest.utf8), parser: parser).count == 1)
        let most = String(repeating: "250-x\r\n", count: 3) + "250 y\r\n"
        #expect(try Self.parse(Array(most.utf8), parser: parser).first?.lines.count == 4)
    }
}
