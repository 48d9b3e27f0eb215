// DKIMParsingTests: tag-lists (RFC 6376 §3.2), DKIM-Signature values (§3.5) and key records (§3.6.1):
// what parses, what each malformed input is refused with, and the serialise-and-parse round trip.

import PostOfficeDKIM
import Testing

@Suite("DKIM tag-list, signature and key record parsing")
struct DKIMParsingTests {
    static let minimal = "v=1; a=rsa-sha256; d=example.com; s=sel; h=From:To; bh=YWJj; b=ZGVm"

    @Test("tag-lists", arguments: [
        ("a=1", ["a": "1"]),
        ("a=1;", ["a": "1"]),
        (" a = 1 ; b= x y ;\r\n c=\r\n\t3 ; ", ["a": "1", "b": "x y", "c": "3"]),
        ("a=", ["a": ""]),
        ("a_1=ok;B=upper", ["a_1": "ok", "B": "upper"]),
    ])
    func tagLists(text: String, expected: [String: String]) throws {
        let list = try DKIMTagList(parsing: text)
        #expect(Dictionary(uniqueKeysWithValues: list.tags.map { ($0.name, $0.value) }) == expected)
        #expect(try DKIMTagList(parsing: list.serialized).sameTags(as: list))
    }

    @Test("malformed tag-lists", arguments: [
        ("", DKIMTagListError.empty),
        ("  ", .empty),
        ("a=1;;b=2", .malformedTag(offset: 4)),
        ("1a=2", .malformedTag(offset: 0)),
        ("a 1", .malformedTag(offset: 2)),
        ("a=1; a=2", .duplicateTag("a")),
        ("a=x\u{1}y", .invalidValueByte(offset: 3)),
        // Past the first eight bytes of a value, so the word-at-a-time scan must find them too.
        ("b=abcdefghijklmnop\u{7F}q", .invalidValueByte(offset: 18)),
        ("b=abcdefgh \r\n ijklmnop\u{0}; c=1", .invalidValueByte(offset: 22)),
        ("b=abcdefgh\r\n\tijklmnopqrstuvwx; c=\u{1F}", .invalidValueByte(offset: 33)),
    ])
    func malformedTagLists(text: String, error: DKIMTagListError) {
        #expect(throws: error) { try DKIMTagList(parsing: text) }
    }

    @Test("a full RFC 6376 §3.5 signature")
    func fullSignature() throws {
        let text = """
            v=1; a=rsa-sha256; d=example.net; s=brisbane;\r
             c=relaxed/simple; q=dns/txt; i=foo@eng.example.net;\r
             t=1117574938; x=1118006938; l=200;\r
             h=from : to:subject:date:keywords:keywords;\r
             z=From:foo@eng.example.net|To:joe@example.com;\r
             bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=;\r
             b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZ\r
              VoG4ZHRNiYzR
            """
        let signature = try DKIMSignature(parsing: text)
        #expect(signature.algorithm == .rsaSHA256)
        #expect(signature.headerCanonicalization == .relaxed && signature.bodyCanonicalization == .simple)
        #expect(signature.signedHeaders == ["from", "to", "subject", "date", "keywords", "keywords"])
        #expect(signature.identity == "foo@eng.example.net")
        #expect(signature.bodyLength == 200 && signature.timestamp == 1_117_574_938 && signature.expiration == 1_118_006_938)
        #expect(signature.bodyHash == Array("12345678901234567890123456789012".utf8))
        #expect(signature.keyQuery.name == "brisbane._domainkey.example.net")
        #expect(signature.copiedHeaders == "From:foo@eng.example.net|To:joe@example.com")
        #expect(try DKIMSignature(parsing: signature.serialized) == signature)
    }

    @Test("c= defaults: absent is simple/simple, one word is header/simple")
    func canonicalizationDefaults() throws {
        let plain = try DKIMSignature(parsing: Self.minimal)
        #expect(plain.headerCanonicalization == .simple && plain.bodyCanonicalization == .simple)
        let one = try DKIMSignature(parsing: Self.minimal + "; c=relaxed")
        #expect(one.headerCanonicalization == .relaxed && one.bodyCanonicalization == .simple)
    }

    @Test("malformed signatures", arguments: [
        ("a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm", DKIMSignatureError.missingTag("v")),
        ("v=2; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm", .unsupportedVersion("2")),
        ("v=1; a=rsa-sha1; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm", .unsupportedAlgorithm("rsa-sha1")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=To; bh=YWJj; b=ZGVm", .fromNotSigned),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=", .invalidBase64(tag: "b")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=Y!Jj; b=ZGVm", .invalidBase64(tag: "bh")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm; c=loose", .invalidCanonicalization("loose")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm; l=-1", .invalidNumber(tag: "l")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm; t=99999999999999999999999",
            .invalidNumber(tag: "t")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm; t=10; x=5", .expiresBeforeSigned),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm; i=joe@example.org",
            .identityNotInDomain("joe@example.org")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=YWJj; b=ZGVm; q=http", .unsupportedQueryMethod("http")),
        ("v=1; a=rsa-sha256; d=example..com; s=sel; h=From; bh=YWJj; b=ZGVm", .invalidDomain("example..com")),
        ("v=1; v=1; a=rsa-sha256", .tagList(.duplicateTag("v"))),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From::To; bh=YWJj; b=ZGVm", .missingTag("h")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From:; bh=YWJj; b=ZGVm", .missingTag("h")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=Fr\u{E9}m; bh=YWJj; b=ZGVm", .missingTag("h")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=Fro; bh=YWJj; b=ZGVm", .fromNotSigned),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=Froms; bh=YWJj; b=ZGVm", .fromNotSigned),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; bh=YWJj; b=ZGVm", .missingTag("h")),
        ("v=1; a=rsa-sha256; d=example.com; s=sel; h=From; BH=YWJj; b=ZGVm", .missingTag("bh")),
    ])
    func malformedSignatures(text: String, error: DKIMSignatureError) {
        #expect(throws: error) { try DKIMSignature(parsing: text) }
    }

    @Test("h= names: whitespace anywhere dropped, case kept, From found in any case")
    func signedHeaderNames() throws {
        let signature = try DKIMSignature(
            parsing: "v=1; a=rsa-sha256; d=example.com; s=sel; h= to :\r\n\tfR om:X-Custom-1 ; bh=YWJj; b=ZGVm")
        #expect(signature.signedHeaders == ["to", "fRom", "X-Custom-1"])
    }

    @Test("i= in a subdomain of d= is fine")
    func identitySubdomain() throws {
        #expect(try DKIMSignature(parsing: Self.minimal + "; i=joe@mail.EXAMPLE.com").identity == "joe@mail.EXAMPLE.com")
    }

    @Test("key records", arguments: [
        ("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", DKIMKeyType.ed25519, false),
        ("p=YWJj", .rsa, false),
        ("v=DKIM1; p=", .rsa, true),
        ("v=DKIM1; k=rsa; h=sha1:sha256; s=email; t=y:s; n=hi; p=YWJj", .rsa, false),
        // A combining mark after a colon (the fuzzer's find): still a list separator, and the same after a round trip.
        ("h=sha1 :\r\n\u{309}x:sha256; p=YWJj", .rsa, false),
    ])
    func keyRecords(text: String, type: DKIMKeyType, revoked: Bool) throws {
        let record = try DKIMKeyRecord(parsing: text)
        #expect(record.keyType == type && record.isRevoked == revoked)
        #expect(try DKIMKeyRecord(parsing: record.serialized) == record)
    }

    @Test("colon lists split at the colon even when a combining mark follows it")
    func colonListsSplitAtTheColonByte() throws {
        let record = try DKIMKeyRecord(parsing: "h=sha1:\u{309}x:sha256; p=YWJj")
        #expect(record.hashAlgorithms == ["sha1", "\u{309}x", "sha256"])
        #expect(record.allowsSHA256)
    }

    @Test("key record flags")
    func keyRecordFlags() throws {
        let record = try DKIMKeyRecord(parsing: "v=DKIM1; h=sha1; s=tls; t=y:s; p=YWJj")
        #expect(record.isTesting && record.isStrict && !record.allowsSHA256 && !record.allowsEmail)
    }

    @Test("malformed key records", arguments: [
        ("k=rsa; v=DKIM1; p=YWJj", DKIMKeyRecordError.invalidVersion("DKIM1")),
        ("v=DKIM2; p=YWJj", .invalidVersion("DKIM2")),
        ("v=DKIM1; k=rsa", .missingPublicKey),
        ("v=DKIM1; k=dsa; p=YWJj", .unsupportedKeyType("dsa")),
        ("v=DKIM1; p=Y", .invalidPublicKey),
        ("v=DKIM1; p=YW=Jj", .invalidPublicKey),
        ("v=DKIM1;; p=YWJj", .tagList(.malformedTag(offset: 8))),
    ])
    func malformedKeyRecords(text: String, error: DKIMKeyRecordError) {
        #expect(throws: error) { try DKIMKeyRecord(parsing: text) }
    }

    /// p= decodes to the same bytes whatever its length and wherever folding whitespace falls (base64 is read
    /// four symbols at a time between whitespace; padding and the odd remainders take the careful path).
    @Test("base64 with folding whitespace anywhere", arguments: 0..<24)
    func base64WithWhitespace(seed: Int) throws {
        var generator = SeededGenerator(seed: UInt64(seed) + 1000)
        let bytes = (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var encoded: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let group = (0..<3).map { index + $0 < bytes.count ? UInt32(bytes[index + $0]) : 0 }
            let value = group[0] << 16 | group[1] << 8 | group[2]
            let symbols = [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], alphabet[Int(value & 63)]]
            let kept = bytes.count - index >= 3 ? 4 : bytes.count - index + 1
            encoded += symbols.prefix(kept) + Array(repeating: UInt8(ascii: "="), count: 4 - kept)
            index += 3
        }
        var folded: [UInt8] = []
        for symbol in encoded {
            if Int.random(in: 0..<7, using: &generator) == 0 { folded += Array([" ", "\t", "\r\n "][Int.random(in: 0..<3, using: &generator)].utf8) }
            folded.append(symbol)
        }
        let record = try DKIMKeyRecord(parsing: "v=DKIM1; k=rsa; p=" + String(decoding: folded, as: UTF8.self))
        #expect(record.publicKey == bytes)
    }
}
