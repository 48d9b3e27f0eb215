// DKIMSignerTests: our signatures verify with our verifier (RSA and Ed25519 at once, any chunking), carry
// the expected tags and over-signing, and key generation gives keys whose TXT records verify them.

import Foundation
import PostOfficeDKIM
import Testing

@Suite("DKIM signing and key generation")
struct DKIMSignerTests {
    static let rsa = try! DKIMGeneratedKey(.rsa)
    static let ed25519 = try! DKIMGeneratedKey(.ed25519)
    static let now = 1_765_000_000

    static let message = """
        From: Ann <ann@example.com>\r
        To: Bob <bob@example.net>, \r
         Carol <carol@example.net>\r
        Subject:  Quarterly   numbers \r
        Date: Sat, 06 Dec 2025 10:00:00 +0000\r
        Message-ID: <1@example.com>\r
        X-Mailer: test\r
        \r
        Hello Bob,  \r
        \r
        the numbers.\r
        \r
        \r
        
        """

    static var keys: [DKIMSigningKey] {
        [
            DKIMSigningKey(privateKey: rsa.privateKey, domain: "example.com", selector: "rsa2025"),
            DKIMSigningKey(privateKey: ed25519.privateKey, domain: "example.com", selector: "ed2025"),
        ]
    }

    static var dns: [String: DKIMKeyAnswerText] {
        ["rsa2025._domainkey.example.com": .text(rsa.txtRecord), "ed2025._domainkey.example.com": .text(ed25519.txtRecord)]
    }

    static func sign(_ message: String, sizes: [Int] = [], expiration: Int? = nil) throws -> [String] {
        var signer = DKIMSigner(keys: keys, time: now, expiration: expiration)
        for piece in DKIMTestSupport.split(Array(message.utf8), sizes: sizes) { signer.receive(piece) }
        return try signer.finish()
    }

    @Test("RSA and Ed25519 signatures verify, in any split", arguments: [0, 1, 3, 17])
    func roundTrip(chunk: Int) throws {
        let sizes = chunk == 0 ? [] : [chunk]
        let fields = try Self.sign(Self.message, sizes: sizes)
        #expect(fields.count == 2)
        let signed = fields.joined() + Self.message
        for verifySizes in [sizes, DKIMTestSupport.randomSizes(seed: UInt64(chunk))] {
            let results = DKIMTestSupport.verify(Array(signed.utf8), dns: Self.dns, now: Self.now, chunks: verifySizes)
            #expect(results.map(\.status) == [.pass, .pass], "\(results)")
            #expect(results.map(\.algorithm) == [.rsaSHA256, .ed25519SHA256])
        }
    }

    @Test("the signature's tags: relaxed/relaxed, t=, over-signed names, folded lines")
    func tags() throws {
        let fields = try Self.sign(Self.message, expiration: Self.now + 86400)
        let field = fields[1]
        #expect(field.replacingOccurrences(of: "\r\n ", with: " ")
            .hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=ed2025;"))
        #expect(field.hasSuffix("\r\n"))
        #expect(field.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        let value = field.dropFirst("DKIM-Signature:".count)
        let signature = try DKIMSignature(parsing: String(value))
        #expect(signature.timestamp == Self.now && signature.expiration == Self.now + 86400)
        #expect(signature.signedHeaders == ["from", "from", "to", "to", "subject", "subject", "date", "date", "message-id"])
        #expect(signature.headerCanonicalization == .relaxed && signature.bodyCanonicalization == .relaxed)
    }

    @Test("headers added after signing break it; unsigned ones do not")
    func addedHeaders() throws {
        let signed = try Self.sign(Self.message).joined() + Self.message
        let extraTo = "To: mallory@example.org\r\n" + signed
        #expect(DKIMTestSupport.verify(extraTo, dns: Self.dns, now: Self.now).map(\.status) == [.fail, .fail])
        let received = "Received: from somewhere\r\n" + signed
        #expect(DKIMTestSupport.verify(received, dns: Self.dns, now: Self.now).map(\.status) == [.pass, .pass])
    }

    @Test("x= in the past is a permerror")
    func expired() throws {
        let signed = try Self.sign(Self.message, expiration: Self.now + 10).joined() + Self.message
        let results = DKIMTestSupport.verify(signed, dns: Self.dns, now: Self.now + 11)
        #expect(results.map(\.status) == [.permerror, .permerror])
        #expect(results[0].reason == .expired)
    }

    @Test("no From, no signature")
    func missingFrom() {
        var signer = DKIMSigner(keys: Self.keys, time: Self.now)
        signer.receive(Array("To: x@example.net\r\n\r\nbody\r\n".utf8))
        #expect(throws: DKIMSigningError.missingFrom) { try signer.finish() }
    }

    @Test("generated keys: PEM reloads, TXT records have the right form")
    func generation() throws {
        #expect(Self.ed25519.txtRecord.hasPrefix("v=DKIM1; k=ed25519; p="))
        #expect(Self.ed25519.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(Self.rsa.txtRecord.hasPrefix("v=DKIM1; k=rsa; p=MIIBIjAN"))  // 2048-bit SubjectPublicKeyInfo
        let reloaded = try DKIMPrivateKey(pem: Self.rsa.privateKeyPEM)
        #expect(reloaded.keyRecord == Self.rsa.privateKey.keyRecord)
        #expect(try DKIMKeyRecord(parsing: Self.ed25519.txtRecord).publicKey.count == 32)
    }

    @Test("RSA keys under 1024 bits are refused (RFC 8301)")
    func smallKeys() throws {
        #expect(throws: DKIMKeyError.keyTooSmall(bits: 512)) { try DKIMPrivateKey.generate(.rsa, rsaBits: 512) }
        // A 512-bit public key in a record: the verifier says permerror, keyTooSmall.
        let spki512 = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANmBe10IgY+u7h3enWTukkqtUD5PR52Tb/mPfjC0QJTocVBq6Za/PlzfV+Py92VaCak19F4WrbVTK5Gg5tW220MCAwEAAQ=="
        let signed = try Self.sign(Self.message).joined() + Self.message
        var dns = Self.dns
        dns["rsa2025._domainkey.example.com"] = .text("v=DKIM1; k=rsa; p=\(spki512)")
        let results = DKIMTestSupport.verify(signed, dns: dns, now: Self.now)
        #expect(results[0].status == .permerror && results[0].reason == .keyTooSmall(bits: 512))
    }

    @Test("no DKIM-Signature: dkim=none; too many: permerror past the bound")
    func noneAndBounds() throws {
        #expect(DKIMTestSupport.verify(Self.message, dns: [:]) == [.none])
        #expect(DKIMResult.none.authenticationResult == "dkim=none")
        let signed = try Self.sign(Self.message).joined() + Self.message
        let limited = DKIMTestSupport.verify(signed, dns: Self.dns, now: Self.now, limits: DKIMVerifierLimits(maximumSignatures: 1))
        #expect(limited.map(\.status) == [.pass, .permerror])
        let small = DKIMTestSupport.verify(signed, dns: Self.dns, now: Self.now, limits: DKIMVerifierLimits(maximumHeaderBytes: 100))
        #expect(small == [DKIMResult(status: .permerror, reason: .headerSectionTooLarge)])
    }
}
