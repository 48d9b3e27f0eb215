// SPFTextTests: the byte-level shortcuts in the SPF and DMARC text paths (the last `@` found on ASCII bytes,
// the DMARC entry built by appending) give exactly what the character-level versions they replaced gave.

import Testing
@testable import PostOfficeSPF

struct SPFTextTests {
    @Test(arguments: [
        "user@example.com", "a@b@example.com", "noat", "@example.com", "user@", "", "@", "us\u{E9}r@ex.example",
        "user@\u{301}x.example", "a@b\u{301}@c.example", "\r\n@x", "x@\r\n", "\u{1F600}@\u{1F600}", "a@b\u{1F600}",
    ])
    func lastAtSignAsTheCharacterSearch(text: String) {
        #expect(text.lastAtSign == text.lastIndex(of: "@"))
        let request = SPFRequest(mailFrom: text, helo: "h.example", clientAddress: SPFIPAddress("192.0.2.1")!)
        // The reference: what the initializer computed with the character search.
        let expectedDomain: String
        let expectedSender: String
        if text.isEmpty {
            expectedDomain = "h.example"
            expectedSender = "postmaster@h.example"
        } else if let at = text.lastIndex(of: "@") {
            expectedDomain = String(text[text.index(after: at)...])
            expectedSender = (text[..<at].isEmpty ? "postmaster" : String(text[..<at])) + "@" + expectedDomain
        } else {
            expectedDomain = text
            expectedSender = "postmaster@" + text
        }
        #expect(request.domain == expectedDomain)
        #expect(request.sender == expectedSender)
    }

    @Test(arguments: [
        (DMARCOutcome.Result.pass, DMARCRecord.Policy?.some(.reject), DMARCRecord.Policy.none, "example.org"),
        (.fail, .quarantine, .quarantine, "sub.example.org"),
        (.none, nil, .none, "example.org"),
        (.permerror, nil, .none, "b\u{FC}cher.example"),
        (.fail, .reject, .quarantine, "a..b"),
    ] as [(DMARCOutcome.Result, DMARCRecord.Policy?, DMARCRecord.Policy, String)])
    func dmarcEntryAsTheReference(result: DMARCOutcome.Result, requested: DMARCRecord.Policy?, disposition: DMARCRecord.Policy, domain: String) {
        var outcome = DMARCOutcome(result: result, fromDomain: domain, disposition: disposition, spfAligned: false, dkimAligned: false)
        outcome.requestedPolicy = requested
        var reference = "dmarc=\(result.rawValue)"
        if let requested { reference += " (p=\(requested.rawValue) dis=\(disposition.rawValue))" }
        reference += " header.from=\(SPFOutcome.value(domain))"
        #expect(outcome.authenticationResultsEntry == reference)
    }
}
