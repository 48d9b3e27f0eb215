// MicroBenchmarks+DKIM: what verifying DKIM costs per inbound message (issue 16): a 10 KB message signed
// once, then verified whole (canonicalisation, body and header hashes, the signature check; the key record
// answered from memory, so no DNS), with the server's key cache and without, next to its floor: OpenSSL's
// signature check alone plus SHA-256 of the same bytes ("hashing only").

import PostOfficeDKIM

extension MicroBenchmarks {
    /// A 10 KB message through `DKIMVerifier`, in read-sized chunks; counts the passes. `cached`: one
    /// ``DKIMPublicKeyCache`` for all messages, as the server has; otherwise the key is loaded per message.
    func dkimVerification(_ keyType: DKIMKeyType, cached: Bool, _ sink: inout UInt64) -> RepeatedMeasurement {
        let (key, record) = Self.key(keyType)
        let signed = Self.signedMessage(key)
        let pieces = Self.chunks(signed)
        let messages = count(keyType == .rsa ? 2_000 : 5_000)
        let publicKeys = cached ? DKIMPublicKeyCache() : nil
        var measurement = RepeatedMeasurement(
            name: "DKIM verify, 10 KB, \(key.algorithm.rawValue)" + (cached ? ", key cache" : ", key loaded per message"),
            unit: "messages/s", workPerRun: Double(messages))
        measurement.measure(sink: &sink) {
            var passed: UInt64 = 0
            for _ in 0..<messages {
                var verifier = DKIMVerifier(now: 1_800_000_000, publicKeys: publicKeys)
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

    /// SHA-256 alone over what a verify of the same message hashes: its body and its header section, as two
    /// digests (canonicalisation leaves this corpus's bytes almost as they are).
    func hashingOnly(_ sink: inout UInt64) -> RepeatedMeasurement {
        let (key, _) = Self.key(.ed25519)
        let signed = Self.signedMessage(key)
        let blankLine: [UInt8] = [13, 10, 13, 10]
        let split = (0..<(signed.count - 3)).first { Array(signed[$0..<($0 + 4)]) == blankLine } ?? 0
        let header = Array(signed[..<(split + 2)])
        let body = Array(signed[(split + 4)...])
        let messages = count(20_000)
        var measurement = RepeatedMeasurement(
            name: "hashing only, SHA-256 of \(body.count) + \(header.count) bytes", unit: "messages/s",
            workPerRun: Double(messages))
        measurement.measure(sink: &sink) {
            var total: UInt64 = 0
            for _ in 0..<messages {
                total &+= UInt64(DKIMSHA256.hash(body)[0]) &+ UInt64(DKIMSHA256.hash(header)[0])
            }
            return total
        }
        return measurement
    }

    /// The 10 KB corpus message with a DKIM-Signature (relaxed/relaxed) by `key` in front.
    private static func signedMessage(_ key: DKIMPrivateKey) -> [UInt8] {
        let corpus = MessageCorpus(size: 10 * 1024)
        var signer = DKIMSigner(keys: [DKIMSigningKey(privateKey: key, domain: "example.net", selector: "bench")], time: 1_800_000_000)
        signer.receive(corpus.decodedCRLF)
        return Array(((try? signer.finish()) ?? []).joined().utf8) + corpus.decodedCRLF
    }

    /// A fresh key (RSA 2048 bits) and its DNS record text.
    private static func key(_ keyType: DKIMKeyType) -> (DKIMPrivateKey, String) {
        let key = try! DKIMPrivateKey.generate(keyType)
        return (key, key.keyRecord.serialized)
    }
}
