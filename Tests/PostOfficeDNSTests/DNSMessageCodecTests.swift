// DNSMessageCodecTests: encode/decode round trips for every record type, compression on the wire, every
// truncation of a valid message, and a table of malformed packets that must fail with a typed error.

import Testing
@testable import PostOfficeDNS

@Suite struct DNSMessageCodecTests {
    static let sample = DNSMessage(
        header: DNSHeader(id: 0xBEEF, isResponse: true, isAuthoritative: true, recursionDesired: true,
            recursionAvailable: true, authenticData: true, rcode: 3),
        questions: [DNSQuestion(name: name("Example.COM"), type: .mx)],
        answers: [
            record("example.com", .mx(preference: 10, exchange: name("mx1.example.com"))),
            record("example.com", .mx(preference: 20, exchange: name("MX2.example.com"))),
            record("mx1.example.com", .a(ip("192.0.2.1"))),
            record("mx1.example.com", .aaaa(ip("2001:db8::1"))),
            record("example.com", .txt([Array("v=spf1 -all".utf8), [], Array(repeating: 0x41, count: 255)])),
            record("1.2.0.192.in-addr.arpa", .ptr(name("mx1.example.com"))),
            record("www.example.com", .cname(name("example.com"))),
            record("_25._tcp.mx1.example.com", .tlsa(.init(certificateUsage: 3, selector: 1, matchingType: 1,
                associationData: Array(0..<32)))),
            record("example.com", .ns(name("ns1.example.com"))),
            record("example.com", .unknown(type: DNSRecordType(rawValue: 99), data: [1, 2, 3])),
        ],
        authorities: [soa("example.com")],
        additionals: [DNSEDNS(udpPayloadSize: 1232, extendedRCode: 1, dnssecOK: true,
            options: [.init(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])]).record])

    @Test func roundTripKeepsEveryField() throws {
        let bytes = try Self.sample.encoded()
        #expect(try DNSMessage(decoding: bytes) == Self.sample)
    }

    @Test func repeatedNamesBecomePointers() throws {
        let message = DNSMessage(
            header: DNSHeader(id: 1), questions: [DNSQuestion(name: name("example.com"), type: .a)],
            answers: [record("example.com", .a(ip("192.0.2.1"))), record("www.example.com", .cname(name("example.com")))])
        let bytes = try message.encoded()
        // Question name at 12 (13 octets), type and class, then the first answer's owner as a pointer to 12.
        #expect(bytes[29] == 0xC0 && bytes[30] == 12)
        #expect(try DNSMessage(decoding: bytes) == message)
    }

    @Test func compressionIsCaseExactSoSpellingSurvives() throws {
        let decoded = try DNSMessage(decoding: try Self.sample.encoded())
        #expect(decoded.questions[0].name.description == "Example.COM")
        #expect(decoded.answers[0].name.description == "example.com")
        #expect(decoded.answers[1].data == .mx(preference: 20, exchange: name("MX2.example.com")))
    }

    @Test func extendedResponseCodeCombinesHeaderAndOPT() {
        // Header rcode 3 with extended 1: (1 << 4) | 3 = 19.
        #expect(Self.sample.responseCode.rawValue == 19)
        #expect(Self.sample.edns?.udpPayloadSize == 1232)
        #expect(Self.sample.edns?.dnssecOK == true)
    }

    @Test func queryAdvertisesEDNSAndRecursion() throws {
        let query = DNSMessage.query(id: 7, question: DNSQuestion(name: name("example.com"), type: .aaaa))
        let decoded = try DNSMessage(decoding: try query.encoded())
        #expect(decoded.header.recursionDesired && !decoded.header.isResponse)
        #expect(decoded.edns?.udpPayloadSize == 1232)
        #expect(decoded.additionals.count == 1 && decoded.additionals[0].name.isRoot)
    }

    /// Every proper prefix of a valid message fails to decode, with a typed error, at every offset.
    @Test func everyTruncationThrows() throws {
        let bytes = try Self.sample.encoded()
        for length in 0..<bytes.count {
            #expect(throws: DNSMessageError.self, "prefix of \(length) octets") {
                try DNSMessage(decoding: Array(bytes.prefix(length)))
            }
        }
    }

    /// Every single-octet change decodes or throws; a decoded one must round-trip.
    @Test func everyOctetFlipDecodesOrThrows() throws {
        let bytes = try Self.sample.encoded()
        for offset in bytes.indices {
            var changed = bytes
            changed[offset] ^= 0xFF
            guard let message = try? DNSMessage(decoding: changed) else { continue }
            guard let again = try? message.encoded() else { continue }
            #expect(try DNSMessage(decoding: again) == message, "offset \(offset)")
        }
    }

    static let header: [UInt8] = [0x12, 0x34, 0x81, 0x80]
    static func counts(_ q: UInt8, _ an: UInt8 = 0) -> [UInt8] { [0, q, 0, an, 0, 0, 0, 0] }
    static let questionTail: [UInt8] = [0, 1, 0, 1]

    struct Malformed: Sendable, CustomTestStringConvertible {
        var label: String
        var bytes: [UInt8]
        var expected: DNSMessageError
        init(_ label: String, _ bytes: [UInt8], _ expected: DNSMessageError) {
            (self.label, self.bytes, self.expected) = (label, bytes, expected)
        }
        var testDescription: String { label }
    }

    static let malformed: [Malformed] = [
        Malformed("short header", [0x12, 0x34, 0x81], .truncated(offset: 2)),
        Malformed("question count past end", header + counts(1), .truncated(offset: 12)),
        // At 12: a pointer to itself.
        Malformed("compression loop (self)", header + counts(1) + [0xC0, 12] + questionTail,
            .compressionPointerForward(offset: 12)),
        // At 12: label "a", then a pointer back to 12 — a loop although the pointer goes backwards.
        Malformed("compression loop (two hops)", header + counts(1) + [1, 0x61, 0xC0, 12] + questionTail,
            .compressionPointerForward(offset: 14)),
        Malformed("pointer forward", header + counts(1) + [0xC0, 20] + questionTail + [0, 0, 0, 0],
            .compressionPointerForward(offset: 12)),
        Malformed("pointer past end", header + counts(1) + [0xC0], .truncated(offset: 12)),
        Malformed("label length 64", header + counts(1) + [64] + Array(repeating: 0x61, count: 64) + [0] + questionTail,
            .labelTooLong(offset: 12)),
        Malformed("reserved label type 0x80", header + counts(1) + [0x80, 0] + questionTail, .labelTooLong(offset: 12)),
        Malformed("name over 255 octets",
            header + counts(1) + Array(repeating: [63] + Array(repeating: 0x61, count: 63), count: 4).flatMap { $0 }
                + [0] + questionTail,
            .nameTooLong(offset: 12)),
        Malformed("label runs past end", header + counts(1) + [5, 0x61, 0x62], .truncated(offset: 12)),
        Malformed("truncated RR fixed part", header + counts(0, 1) + [0, 0, 1, 0, 1], .truncated(offset: 17)),
        Malformed("RDATA longer than message", header + counts(0, 1) + [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 8, 1, 2, 3, 4],
            .truncated(offset: 23)),
        Malformed("A with 3 octets", header + counts(0, 1) + [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3],
            .badRecordData(offset: 23)),
        Malformed("AAAA with 4 octets", header + counts(0, 1) + [0, 0, 28, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4],
            .badRecordData(offset: 23)),
        Malformed("MX name beyond RDLENGTH", header + counts(0, 1) + [0, 0, 15, 0, 1, 0, 0, 0, 1, 0, 3, 0, 10, 1, 0x61, 0],
            .badRecordData(offset: 23)),
        Malformed("TXT string beyond RDLENGTH", header + counts(0, 1) + [0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 5, 0x61],
            .badRecordData(offset: 23)),
        Malformed("TLSA shorter than 3", header + counts(0, 1) + [0, 0, 52, 0, 1, 0, 0, 0, 1, 0, 2, 3, 1],
            .badRecordData(offset: 23)),
        Malformed("OPT option beyond RDLENGTH", header + counts(0, 1) + [0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 8],
            .badRecordData(offset: 23)),
    ]

    @Test(arguments: malformed)
    func malformedPacketsThrowTypedErrors(_ entry: Malformed) {
        #expect(throws: entry.expected) { try DNSMessage(decoding: entry.bytes) }
    }

    @Test func pointerChainsThatGoBackwardsDecode() throws {
        // 12: "a" "b" root (the question); 21: "c" + pointer to 14 ("b"), the answer's owner.
        let bytes = Self.header + Self.counts(1, 1) + [1, 0x61, 1, 0x62, 0] + Self.questionTail
            + [1, 0x63, 0xC0, 14] + [0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]
        let message = try DNSMessage(decoding: bytes)
        #expect(message.questions[0].name == name("a.b"))
        #expect(message.answers[0].name == name("c.b"))
        #expect(message.answers[0].data == .a(ip("10.0.0.1")))
    }

    @Test(arguments: [
        ("mail.example.com", "mail.example.com"), ("mail.example.com.", "mail.example.com"), (".", "."),
        ("a\\.b.example", "a\\.b.example"), ("tab\\009.example", "tab\\009.example"),
    ])
    func namesParseAndPrint(text: String, printed: String) throws {
        #expect(try DNSName(text).description == printed)
    }

    @Test(arguments: ["", "a..b", ".a", String(repeating: "a", count: 64) + ".example",
        Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: "."), "x\\999"])
    func invalidNamesAreRejected(text: String) {
        #expect(throws: DNSMessageError.self) { try DNSName(text) }
    }

    @Test func namesMatchIgnoringCaseOnly() {
        #expect(name("MX.Example.COM").matches(name("mx.example.com")))
        #expect(!name("mx.example.com").matches(name("mx.example.org")))
        #expect(name("MX.Example.COM") != name("mx.example.com"))
    }

    @Test func encodingRefusesOversizedTXTStrings() {
        let message = DNSMessage(header: DNSHeader(id: 1), answers: [record("t.example", .txt([Array(repeating: 1, count: 256)]))])
        #expect(throws: DNSMessageError.self) { try message.encoded() }
    }
}

/// Names without escapes are split with one copy per label; the result is what the byte-by-byte reading gives.
@Suite struct DNSNameParsingTests {
    @Test(arguments: ["example.com", "Example.COM.", "a", "a..b", ".a", "a.", "..", "", "_dmarc.example.test", "é.test"])
    func plainNamesReadAsTheGeneralReadingDoes(text: String) {
        #expect(DNSName.plainLabels(text) == DNSName.escapedLabels(text))
    }

    @Test(arguments: 0..<40)
    func randomPlainNames(seed: Int) {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        let pieces = ["a", "mail", "EXAMPLE", "-", "_", ".", "..", "é", "x1"]
        var text = ""
        for _ in 0..<next(10) { text += pieces[next(pieces.count)] }
        #expect(DNSName.plainLabels(text) == DNSName.escapedLabels(text), "\(text)")
        #expect(DNSName.plainLabels(text + "\\.x") == nil)
    }

    @Test func escapesStillRead() throws {
        #expect(try DNSName("a\\.b.c").labels == [Array("a.b".utf8), Array("c".utf8)])
        #expect(try DNSName("\\065b.c").labels == [Array("Ab".utf8), Array("c".utf8)])
        #expect(throws: DNSMessageError.self) { try DNSName("a..b") }
        #expect(throws: DNSMessageError.self) { try DNSName("") }
        #expect(try DNSName("Mail.Example.COM.").lowercased() == DNSName("mail.example.com"))
        let lower = try DNSName("mail.example.com")
        #expect(lower.lowercased() == lower)
    }
}
