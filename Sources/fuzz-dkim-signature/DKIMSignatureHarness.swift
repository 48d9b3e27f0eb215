// DKIMSignatureHarness: one input read as a tag-list three ways (generic list, DKIM-Signature, key
// record), plus blanking its b= value as the verifier does. Each successful parse must survive a
// serialise-and-parse round trip unchanged.

import PostOfficeDKIM
import PostOfficeFuzzSupport

enum DKIMSignatureHarness {
    static func check(_ bytes: [UInt8]) {
        if let list = try? DKIMTagList(parsing: bytes) {
            let text = list.serialized
            guard let again = try? DKIMTagList(parsing: text) else {
                preconditionFailure("tag-list \(text) does not parse back")
            }
            precondition(again.sameTags(as: list), "tag-list round trip changed \(list.tags) into \(again.tags)")
            for tag in list.tags {
                precondition(tag.valueRegion.upperBound <= bytes.count, "value region outside the input")
            }
        }
        if let signature = try? DKIMSignature(parsing: bytes) {
            let text = signature.serialized
            guard let again = try? DKIMSignature(parsing: text) else {
                preconditionFailure("signature \(text) does not parse back")
            }
            precondition(again == signature, "signature round trip changed \(signature) into \(again)")
            _ = signature.keyQuery.name
        }
        if let record = try? DKIMKeyRecord(parsing: String(decoding: bytes, as: UTF8.self)) {
            let text = record.serialized
            guard let again = try? DKIMKeyRecord(parsing: text) else {
                preconditionFailure("key record \(text) does not parse back")
            }
            precondition(again == record, "key record round trip changed \(record) into \(again)")
        }
        // As a header field: the verifier's view (fields, b= blanking, canonical forms) must not trap.
        let header = Array("DKIM-Signature:".utf8) + bytes + [13, 10, 13, 10] + Array("body\r\n".utf8)
        var verifier = DKIMVerifier(now: 0)
        verifier.receive(header)
        verifier.finish()
        for query in verifier.keyQueries {
            verifier.provideKey(.record("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), for: query)
        }
        let results = verifier.results()
        precondition(results.count == 1, "one DKIM-Signature field gave \(results.count) results")
        precondition(results[0].status != .pass, "a fuzzed signature passed")
    }
}
