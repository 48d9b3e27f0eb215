// MicroBenchmarks+DKIM: what verifying DKIM costs per inbound message (issue 16): a 10 KB message signed
// once, then verified whole (canonicalisation, body and header hashes, the signature check; the key record
// answered from memory, so no DNS), next to OpenSSL's signature check alone, the floor it cannot go below.

import PostOfficeDKIM

extension MicroBenchmarks {
    /// A 10 KB message through `DKIMVerifier`, in read-sized chunks; counts the passes.
    func dkimVerification(_ keyType: DKIMKeyType, _ sink: inout UInt64) -> RepeatedMeasurement {
        let (key, record) = Self.key(keyType)
        let corpus = MessageCorpus(size: 10 * 1024)
        var signer = DKIMSigner(keys: [DKIMSigningKey(privateKey: key, domain: "example.net", selector: "bench")], time: 1_800_000_000)
        signer.receive(corpus.decodedCRLF)
        let signed = Array(((try? signer.finish()) ?? []).joined().utf8) + corpus.decodedCRLF
        let pieces = Self.chunks(signed)
        let messages = count(keyType == .rsa ? 2_000 : 5_000)
        var measurement = RepeatedMeasurement(
            name: "DKIM verify, 10 KB, \(key.algorithm.rawValue)", unit: "messages/s", workPerRun: Double(messages))
        measurement.measure(sink: &sink) {
            var passed: UInt64 = 0
            for _ in 0..<messages {
                var verifier = DKIMVerifier(now: 1_800_000_000)
                for piece in pieces { verifier.receive(piece) }
                verifier.finish()
                for query in verifier.keyQueries { verifier.provideKey(.record(record), for: query) }
                if verifier.results().first?.status == .pass { passed += 1 }
            }
            return passed
        }
        return measurement
    }

    /// OpenSSL's check of one signature over 600 bytes (about a signed header block), nothing else.
    func signatureCheckAlone(_ keyType: DKIMKeyType, _ sink: inout UInt64) -> RepeatedMeasurement {
        let (key, _) = Self.key(keyType)
        let data = [UInt8](repeating: 0x61, count: 600)
        let signature = (try? key.sign(data)) ?? []
        let publicKey = try? DKIMPublicKey(keyType: keyType, bytes: key.publicKeyBytes)
        let checks = count(keyType == .rsa ? 2_000 : 5_000)
        var measurement = RepeatedMeasurement(
            name: "signature check alone, \(key.algorithm.rawValue)", unit: "checks/s", workPerRun: Double(checks))
        measurement.measure(sink: &sink) {
            var passed: UInt64 = 0
            for _ in 0..<checks where publicKey?.verify(signature: signature, data: data, algorithm: key.algorithm) == true {
                passed += 1
            }
            return passed
        }
        return measurement
    }

    /// A fresh key (RSA 2048 bits) and its DNS record text.
    private static func key(_ keyType: DKIMKeyType) -> (DKIMPrivateKey, String) {
        let key = try! DKIMPrivateKey.generate(keyType)
        return (key, key.keyRecord.serialized)
    }
}
