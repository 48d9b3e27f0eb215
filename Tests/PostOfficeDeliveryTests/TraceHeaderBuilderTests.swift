// TraceHeaderBuilderTests: the exact trace block, RFC 5322 dates, and that hostile peer values (CR, LF, NUL,
// controls, overlong names) can never start a new header line.

import Testing
import PostOfficeCore
@testable import PostOfficeDelivery

@Suite struct TraceHeaderBuilderTests {
    static let trace = TraceInfo(
        sessionID: "s1", queueID: "4AB12", heloName: "client.example.com", clientAddress: "192.0.2.7",
        clientHostname: "mail.client.example.com", protocolName: "ESMTPS",
        tlsDescription: "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384", hostname: "mx.example.org")

    @Test func fullBlock() {
        let builder = TraceHeaderBuilder(
            trace: Self.trace, reversePath: MailAddress("sender@example.com"), date: MailTime(seconds: 1_700_000_000))
        let text = String(decoding: builder.headers(
            recipient: MailAddress(localPart: "Team", domain: "Example.org"),
            deliveredTo: MailAddress(localPart: "alice", domain: "example.org")),
            as: UTF8.self)
        #expect(text == """
            Return-Path: <sender@example.com>
            Delivered-To: alice@example.org
            Received: from client.example.com (mail.client.example.com [192.0.2.7])
            \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)
            \tby mx.example.org (PostOffice) with ESMTPS id 4AB12
            \tfor <Team@Example.org>; Tue, 14 Nov 2023 22:13:20 +0000

            """)
    }

    @Test func nullReversePathLocalSubmissionAndSharedBlock() {
        var trace = Self.trace
        trace.heloName = nil
        trace.clientAddress = nil
        trace.clientHostname = nil
        trace.tlsDescription = nil
        trace.protocolName = "local"
        trace.timeZoneOffsetMinutes = -300
        let builder = TraceHeaderBuilder(trace: trace, reversePath: nil, date: MailTime(seconds: 1_700_000_000))
        let text = String(decoding: builder.headers(recipient: nil, deliveredTo: nil), as: UTF8.self)
        #expect(text == """
            Return-Path: <>
            Received: by mx.example.org (PostOffice) with local id 4AB12; Tue, 14 Nov 2023 17:13:20 -0500

            """)
    }

    @Test func unknownReverseDNSAndQuotedSender() {
        var trace = Self.trace
        trace.clientHostname = nil
        trace.tlsDescription = nil
        let sender = MailAddress(localPart: "odd person", domain: "example.com")
        let text = String(decoding: TraceHeaderBuilder(trace: trace, reversePath: sender, date: MailTime(seconds: 0))
            .headers(recipient: nil, deliveredTo: nil), as: UTF8.self)
        #expect(text.hasPrefix("Return-Path: <?odd?person?@example.com>\nReceived: from client.example.com (unknown [192.0.2.7])\n"))
        #expect(text.hasSuffix("; Thu, 1 Jan 1970 00:00:00 +0000\n"))
    }

    static let hostileValues: [String] = [
        "evil\r\nX-Injected: yes", "evil\nX-Injected: yes", "evil\rX-Injected: yes", "evil\u{0}X-Injected: yes",
        "a\u{85}X-Injected: yes", "a\u{2028}X-Injected: yes", "\r\n\r\nbody", "x\u{b}\u{c}y", "(comment) ; date",
        String(repeating: "h", count: 5000) + "\nX-Injected: yes",
    ]

    @Test(arguments: hostileValues)
    func peerValuesCannotCreateHeaderLines(_ hostile: String) {
        let trace = TraceInfo(
            sessionID: "s", queueID: hostile, heloName: hostile, clientAddress: hostile, clientHostname: hostile,
            protocolName: hostile, tlsDescription: hostile, hostname: "mx.example.org")
        let address = MailAddress(localPart: hostile, domain: "example.org")
        let block = TraceHeaderBuilder(trace: trace, reversePath: address, date: MailTime(seconds: 0))
            .headers(recipient: address, deliveredTo: address)
        #expect(!block.contains(0) && !block.contains(0x0D))
        let lines = String(decoding: block, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        // Every line is a known field or a folded continuation; nothing else.
        for line in lines.dropLast() {
            let known = ["Return-Path: ", "Delivered-To: ", "Received: ", "\t"].contains { line.hasPrefix($0) }
            #expect(known, "unexpected line: \(line.prefix(60))")
            #expect(line.utf8.count < 1100)
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" })
        }
        #expect(lines.last == "")
        #expect(lines.count <= 8)
    }

    @Test(arguments: [
        (0, 0, "Thu, 1 Jan 1970 00:00:00 +0000"),
        (1_700_000_000, 0, "Tue, 14 Nov 2023 22:13:20 +0000"),
        (1_700_000_000, 60, "Tue, 14 Nov 2023 23:13:20 +0100"),
        (1_700_000_000, 330, "Wed, 15 Nov 2023 03:43:20 +0530"),
        (1_700_000_000, -480, "Tue, 14 Nov 2023 14:13:20 -0800"),
        (951_782_400, 0, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (4_102_444_799, 0, "Thu, 31 Dec 2099 23:59:59 +0000"),
        (0, 100_000, "Thu, 1 Jan 1970 23:59:00 +2359"),
    ])
    func rfc5322Dates(_ seconds: Int, _ offset: Int, _ expected: String) {
        #expect(MailDateFormatter.format(seconds: seconds, offsetMinutes: offset) == expected)
    }

    @Test func localOffsetIsPlausible() {
        let offset = MailDateFormatter.localOffsetMinutes(at: 1_700_000_000)
        #expect((-14 * 60)...(14 * 60) ~= offset)
    }
}
