// SMTPServerExtensionsTests: reading EHLO replies, including what this project's own server advertises.

import PostOfficeSMTP
import PostOfficeSMTPClient
import Testing

@Suite struct SMTPServerExtensionsTests {
    @Test func readsEveryKeywordTheEngineUses() {
        let reply = SMTPReply(
            code: 250, enhancedCode: nil,
            lines: ["mx.example.test", "pipelining", "SIZE 1000", "8BITMIME", "SMTPUTF8", "DSN", "CHUNKING",
                "STARTTLS", "AUTH PLAIN login", "AUTH=XOAUTH2", "ENHANCEDSTATUSCODES", "X-UNKNOWN 1"])
        let found = SMTPServerExtensions(ehloReply: reply)
        #expect(found.pipelining && found.size && found.eightBitMIME && found.smtpUTF8 && found.dsn)
        #expect(found.chunking && found.startTLS && found.enhancedStatusCodes)
        #expect(found.sizeLimit == 1000)
        #expect(found.authMechanisms == ["PLAIN", "LOGIN", "XOAUTH2"])
    }

    @Test(arguments: [("SIZE", nil), ("SIZE 0", nil), ("SIZE x", nil), ("SIZE 52428800", 52_428_800)] as [(String, Int?)])
    func sizeWithoutAFixedLimit(line: String, limit: Int?) {
        let found = SMTPServerExtensions(ehloReply: SMTPReply(code: 250, enhancedCode: nil, lines: ["mx", line]))
        #expect(found.size)
        #expect(found.sizeLimit == limit)
    }

    @Test func ourOwnServerAdvertisement() {
        let configuration = SMTPServerConfiguration(hostname: "mx.example.test")
        let found = SMTPServerExtensions(
            ehloReply: SMTPCapabilities(configuration: configuration).extendedHelloReply(hostname: "mx.example.test"))
        #expect(found.sizeLimit == configuration.limits.maximumMessageSize)
        #expect(found.enhancedStatusCodes)
    }
}
