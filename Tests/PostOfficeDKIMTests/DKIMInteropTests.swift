// DKIMInteropTests: interoperability with dkimpy (Debian python3-dkim) both ways: its signatures (RSA and
// Ed25519, every c= combination, awkward messages) verify with us, and ours verify with its `dkim.verify`
// through its `dnsfunc` hook. Skipped (the trait) when no python3 can `import dkim`.

import Foundation
import PostOfficeDKIM
import Testing

@Suite(
    "Interoperability with dkimpy", .serialized,
    .enabled(if: DKIMPython.isAvailable, "dkimpy is not installed (apt-get install python3-dkim)"))
struct DKIMInteropTests {
    static let rsa = try! DKIMGeneratedKey(.rsa)
    /// dkimpy takes an Ed25519 key as the base64 seed, so the seed is made here.
    static let ed25519Seed: [UInt8] = {
        var generator = SeededGenerator(seed: 8463)
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }()
    static let ed25519 = try! DKIMPrivateKey(ed25519Seed: ed25519Seed)

    static var records: [String: String] {
        ["rsa._domainkey.example.com": rsa.txtRecord, "ed._domainkey.example.com": ed25519.keyRecord.serialized]
    }

    static var dns: [String: DKIMKeyAnswerText] { records.mapValues { .text($0) } }

    /// Messages that exercise canonicalization: (name, bytes).
    static let messages: [(String, [UInt8])] = [
        ("plain", Array("From: Ann <ann@example.com>\r\nTo: bob@example.net\r\nSubject: hello\r\nDate: Sat, 06 Dec 2025 10:00:00 +0000\r\n\r\nHi Bob.\r\n".utf8)),
        ("folded headers, trailing whitespace", Array("""
            From: Ann\r
             <ann@example.com>  \r
            To:   bob@example.net,\r
            \t carol@example.net\r
            SUBJECT:  many    spaces\t \r
            Date: Sat, 06 Dec 2025 10:00:00 +0000\r
            \r
            line with trailing space   \r
            \ttabbed\t\tline\r
               \r
            \r
            last  \r
            \r
            \r
            
            """.utf8)),
        ("empty body", Array("From: ann@example.com\r\nTo: bob@example.net\r\nSubject: empty\r\n\r\n".utf8)),
        ("no blank line body end", Array("From: ann@example.com\r\nSubject: x\r\n\r\nno final newline".utf8)),
        ("8-bit", Array("From: Zoë <zoe@example.com>\r\nTo: bob@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCafé crème — 日本語  \r\n\u{00A0}nbsp\r\n".utf8)),
        ("blank lines only", Array("From: ann@example.com\r\nSubject: blanks\r\n\r\n\r\n\r\n  \r\n\r\n".utf8)),
    ]

    static let canonicalizations = ["simple/simple", "relaxed/relaxed", "relaxed/simple", "simple/relaxed"]

    @Test("dkimpy's signatures verify with us", arguments: ["rsa-sha256", "ed25519-sha256"])
    func dkimpySignsWeVerify(algorithm: String) throws {
        let key = algorithm == "rsa-sha256" ? Self.rsa.privateKeyPEM : Data(Self.ed25519Seed).base64EncodedString()
        let selector = algorithm == "rsa-sha256" ? "rsa" : "ed"
        var jobs: [DKIMPython.SignJob] = []
        for canonicalization in Self.canonicalizations {
            for (_, message) in Self.messages {
                jobs.append(.init(message: message, key: key, domain: "example.com", selector: selector,
                    algorithm: algorithm, canonicalization: canonicalization))
            }
        }
        let fields = try DKIMPython.sign(jobs)
        #expect(fields.count == jobs.count)
        for (job, field) in zip(jobs, fields) {
            let signed = Array(field.utf8) + job.message
            let name = Self.messages.first { $0.1 == job.message }?.0 ?? "?"
            for sizes in [[], [1], DKIMTestSupport.randomSizes(seed: UInt64(signed.count))] {
                let results = DKIMTestSupport.verify(signed, dns: Self.dns, now: Int(Date().timeIntervalSince1970), chunks: sizes)
                #expect(results.map(\.status) == [.pass], "\(name) \(job.canonicalization) \(sizes.count): \(results)")
            }
            // And a changed body fails.
            var tampered = signed
            tampered.append(contentsOf: Array("tampered\r\n".utf8))
            let results = DKIMTestSupport.verify(tampered, dns: Self.dns, now: Int(Date().timeIntervalSince1970), chunks: [])
            #expect(results.map(\.reason) == [.bodyHashMismatch], "\(name) \(job.canonicalization)")
        }
    }

    @Test("our signatures (RSA and Ed25519 at once) verify with dkimpy")
    func weSignDkimpyVerifies() throws {
        let keys = [
            DKIMSigningKey(privateKey: Self.rsa.privateKey, domain: "example.com", selector: "rsa"),
            DKIMSigningKey(privateKey: Self.ed25519, domain: "example.com", selector: "ed"),
        ]
        var signedMessages: [[UInt8]] = []
        for (index, (_, message)) in Self.messages.enumerated() {
            var signer = DKIMSigner(keys: keys, time: Int(Date().timeIntervalSince1970))
            for piece in DKIMTestSupport.split(message, sizes: DKIMTestSupport.randomSizes(seed: UInt64(index))) {
                signer.receive(piece)
            }
            signedMessages.append(Array(try signer.finish().joined().utf8) + message)
        }
        let verdicts = try DKIMPython.verify(signedMessages, records: Self.records)
        #expect(verdicts == Array(repeating: "pass pass", count: Self.messages.count), "\(Self.messages.map(\.0))")
        // dkimpy notices a tampered Subject too.
        let tampered = signedMessages.map { Array(String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "Subject:", with: "Subject: X", options: .caseInsensitive).utf8) }
        #expect(try DKIMPython.verify(tampered, records: Self.records) == Array(repeating: "fail fail", count: Self.messages.count))
    }
}
