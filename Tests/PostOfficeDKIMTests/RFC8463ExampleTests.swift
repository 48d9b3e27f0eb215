// RFC8463ExampleTests: the signed message of RFC 8463 Appendix A verifies (both the Ed25519 and the RSA
// signature), in any chunking; its body hash and the Ed25519 signature are reproduced from the keys.

import Foundation
import PostOfficeDKIM
import Testing

@Suite("RFC 8463 Appendix A")
struct RFC8463ExampleTests {
    @Test("both signatures of the example pass", arguments: [0, 1, 2, 7, 64])
    func examplePasses(chunkSize: Int) {
        let results = DKIMTestSupport.verify(RFC8463Vectors.signedMessage, dns: RFC8463Vectors.records, chunkSize: chunkSize)
        #expect(results.map(\.status) == [.pass, .pass])
        #expect(results.map(\.algorithm) == [.ed25519SHA256, .rsaSHA256])
        #expect(results[0].authenticationResult
            == "dkim=pass header.d=football.example.com header.s=brisbane header.b=\"/gCrinpc\"")
        #expect(results[1].authenticationResult == "dkim=pass header.d=football.example.com header.s=test header.b=F45dVWDf")
    }

    @Test("the body hash matches bh=")
    func bodyHash() {
        var hasher = DKIMBodyHasher(canonicalization: .relaxed)
        hasher.update(Array(RFC8463Vectors.body.utf8))
        #expect(hasher.finalize() == Array(base64: "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="))
    }

    @Test("the Ed25519 key from the seed publishes the RFC's record")
    func ed25519Record() throws {
        let key = try DKIMPrivateKey(ed25519Seed: #require(Array(base64: RFC8463Vectors.ed25519Seed)))
        #expect(key.keyRecord.serialized == RFC8463Vectors.ed25519Record)
        let rsa = try DKIMPrivateKey(pem: RFC8463Vectors.rsaPrivateKey)
        #expect(rsa.keyRecord.serialized == RFC8463Vectors.rsaRecord)
    }

    @Test("a changed body fails with body hash mismatch, a changed Subject with signature mismatch")
    func tampering() {
        let body = RFC8463Vectors.signedMessage.replacingFirst("We lost", with: "We won")
        #expect(DKIMTestSupport.verify(body, dns: RFC8463Vectors.records).map(\.reason) == [.bodyHashMismatch, .bodyHashMismatch])
        let subject = RFC8463Vectors.signedMessage.replacingFirst("dinner", with: "lunch")
        let results = DKIMTestSupport.verify(subject, dns: RFC8463Vectors.records)
        #expect(results.map(\.status) == [.fail, .fail])
        #expect(results.map(\.reason) == [.signatureMismatch, .signatureMismatch])
        #expect(results[0].authenticationResult.hasPrefix("dkim=fail reason=\"signature mismatch\" header.d=football.example.com"))
    }

    @Test("an added second Subject breaks the over-signed signature")
    func oversigning() {
        let message = RFC8463Vectors.signedMessage.replacingFirst(
            "Subject: Is dinner ready?\r\n", with: "Subject: Is dinner ready?\r\nSubject: Free money\r\n")
        #expect(DKIMTestSupport.verify(message, dns: RFC8463Vectors.records).map(\.status) == [.fail, .fail])
    }

    @Test("DNS failure classes", arguments: [
        (DKIMKeyAnswerText.temporary, DKIMResultStatus.temperror),
        (.notFound, .permerror),
        (.text("v=DKIM1; k=ed25519; p="), .permerror),
        (.text("v=DKIM1; k=rsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), .permerror),
        (.text("v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), .permerror),
        (.text("v=DKIM1; k=ed25519; s=other; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), .permerror),
        (.text("k=ed25519; t=y; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), .pass),
    ])
    func dnsAnswers(answer: DKIMKeyAnswerText, status: DKIMResultStatus) {
        var dns = RFC8463Vectors.records
        dns[RFC8463Vectors.ed25519Query] = answer
        let results = DKIMTestSupport.verify(RFC8463Vectors.signedMessage, dns: dns)
        #expect(results.map(\.status) == [status, .pass])
    }

    @Test("revoked key is a permerror with that reason")
    func revoked() {
        var dns = RFC8463Vectors.records
        dns[RFC8463Vectors.ed25519Query] = .text("v=DKIM1; k=ed25519; p=")
        #expect(DKIMTestSupport.verify(RFC8463Vectors.signedMessage, dns: dns)[0].reason == .keyRevoked)
    }

    @Test("a testing-mode key turns a failure into neutral")
    func testingMode() {
        var dns = RFC8463Vectors.records
        dns[RFC8463Vectors.ed25519Query] = .text("v=DKIM1; k=ed25519; t=y; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        let message = RFC8463Vectors.signedMessage.replacingFirst("We lost", with: "We won")
        #expect(DKIMTestSupport.verify(message, dns: dns).map(\.status) == [.neutral, .fail])
    }
}

extension Array where Element == UInt8 {
    init?(base64 text: String) {
        // Decoding through the module's own parser: a one-tag key record.
        guard let record = try? DKIMKeyRecord(parsing: "p=" + text) else { return nil }
        self = record.publicKey
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
