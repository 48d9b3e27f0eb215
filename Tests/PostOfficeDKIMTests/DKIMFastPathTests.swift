// DKIMFastPathTests: the byte-level shortcuts of the verifier against the general code they stand in for —
// h= names read in place against the byte-by-byte reading, whitespace removal, the usual c= spellings, the
// one-call SHA-256 and the body hash finished in place — over tables and seeded random inputs.

import Testing
@testable import PostOfficeDKIM

@Suite("DKIM fast paths match the general code")
struct DKIMFastPathTests {
    static func gathering(_ text: String) -> (names: [String], includesFrom: Bool)? {
        var text = text
        return text.withUTF8 { DKIMSignature.fieldNamesGathering($0) }
    }

    @Test("h= names: the in-place reading gives what the byte-by-byte one gives", arguments: [
        "from:to:subject", "From : To", " from:\r\n to ", "fr om:to", "from::to", "", ":", "from:", " \t",
        "from:to:\u{1}x", "frôm:to", "FROM", "from:from:to:to:subject:subject:date:date:message-id:\r\n mime-version:content-type",
        "a\r\n\tb:c", "x-y_z!#:from",
    ])
    func fieldNamesTable(text: String) {
        let fast = DKIMSignature.fieldNames(text)
        let general = Self.gathering(text)
        #expect(fast?.names == general?.names)
        #expect(fast?.includesFrom == general?.includesFrom)
    }

    @Test("h= names over random lists", arguments: 0..<40)
    func fieldNamesRandom(seed: Int) {
        var generator = SeededGenerator(seed: UInt64(seed) + 7000)
        let pieces = ["from", "To", "subject", "message-id", "a", "fr om", "x\u{1}", "é", "", " ", "\t", "\r\n ", ":", "::", "From"]
        var text = ""
        for _ in 0..<Int.random(in: 0...12, using: &generator) {
            text += pieces[Int.random(in: 0..<pieces.count, using: &generator)]
            if Int.random(in: 0..<3, using: &generator) > 0 { text += ":" }
        }
        let fast = DKIMSignature.fieldNames(text)
        let general = Self.gathering(text)
        #expect(fast?.names == general?.names, "\(text.debugDescription)")
        #expect(fast?.includesFrom == general?.includesFrom, "\(text.debugDescription)")
    }

    @Test("whitespace removal keeps every other character, in order", arguments: 0..<40)
    func removingWhitespace(seed: Int) {
        var generator = SeededGenerator(seed: UInt64(seed) + 8000)
        let pieces = ["abc", " ", "\t", "\r\n", "\r", "\n", "é", "日本", "+/=", "x"]
        var text = ""
        for _ in 0..<Int.random(in: 0...30, using: &generator) { text += pieces[Int.random(in: 0..<pieces.count, using: &generator)] }
        let expected = String(decoding: text.utf8.filter { !DKIMTagList.isWhitespace($0) }, as: UTF8.self)
        #expect(DKIMTagList.removingWhitespace(text) == expected)
        #expect(DKIMTagList.removingWhitespace(text[...]) == expected)
    }

    @Test("c= spellings read by the table mean what the general reading makes of them", arguments: [
        ("relaxed/relaxed", DKIMCanonicalization.relaxed, DKIMCanonicalization.relaxed),
        ("relaxed/simple", .relaxed, .simple), ("simple/relaxed", .simple, .relaxed), ("simple/simple", .simple, .simple),
        ("relaxed", .relaxed, .simple), ("simple", .simple, .simple),
        ("Relaxed/RELAXED", .relaxed, .relaxed), ("RELAXED", .relaxed, .simple),
    ])
    func canonicalizationSpellings(text: String, header: DKIMCanonicalization, body: DKIMCanonicalization) throws {
        let signature = try DKIMSignature(parsing: "v=1; a=rsa-sha256; c=\(text); d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm")
        #expect(signature.headerCanonicalization == header)
        #expect(signature.bodyCanonicalization == body)
    }

    @Test("one-call SHA-256 and the body hash finished in place", arguments: [0, 1, 55, 56, 64, 1000, 70_000])
    func hashes(length: Int) {
        var generator = SeededGenerator(seed: UInt64(length) + 9000)
        let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var running = DKIMSHA256()
        bytes.withUnsafeBytes { running.update($0) }
        let copied = running.finalize()
        #expect(DKIMSHA256.hash(bytes) == copied)
        #expect(DKIMSHA256.hash(bytes[...]) == copied)
        #expect(running.finalizeConsuming() == copied)
        var hasher = DKIMBodyHasher(canonicalization: .simple)
        hasher.update(bytes)
        let first = hasher.finalize()
        #expect(hasher.finalize() == first)
    }
}
