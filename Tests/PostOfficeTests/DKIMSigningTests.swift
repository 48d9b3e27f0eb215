// DKIMSigningTests: mail we send carries DKIM signatures that other people's verifiers accept — submission
// (RSA and Ed25519 at once, folded headers, trailing white space, an empty body, 8-bit text, a message
// larger than the in-memory spool), `sendmail` and delivery reports — checked by dkimpy and OpenDKIM against
// the TXT records `dkim generate` printed; no key, another domain or a subdomain means no signature; keys
// follow a reload, and a broken key refuses the reload.

import Foundation
import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue
import PostOfficeTesting
import Testing
@testable import PostOffice

@Suite struct DKIMSigningTests {
    /// Messages from alice@example.test, as a client writes them (LF; the test client sends CRLF).
    static let messages: [(name: String, text: String)] = [
        ("folded headers", "From: Alice <alice@example.test>\nTo: bob@example.test,\n  Carol\n\t<bob@example.test>\nSubject: a subject that\n  goes on a second line\n\tand a third\n\nHello Bob.\n"),
        ("trailing white space", "From: alice@example.test\nTo: bob@example.test\nSubject: spaces   \n\nline with spaces   \nline with a tab\t\n\n   \n\n\n"),
        ("empty body", "From: alice@example.test\nTo: bob@example.test\nSubject: nothing to say\n\n"),
        ("8-bit", "From: =?utf-8?q?Al=C3=AFce?= <alice@example.test>\nTo: bob@example.test\nSubject: caf\u{E9}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nNa\u{EF}ve r\u{E9}sum\u{E9} \u{2713} \u{1F600}\n"),
    ]

    /// A message above the 256 KiB the spool keeps in memory, so it is signed over a spilled file.
    static let large: String = {
        let line = String(repeating: "0123456789abcdef", count: 4) + " \n"
        return "From: alice@example.test\nTo: bob@example.test\nSubject: large\n\n" + String(repeating: line, count: 12_000)
    }()

    /// A server for example.test whose keys (RSA and Ed25519 unless told) are made with `dkim generate`'s code.
    static func office(
        algorithms: [DKIMKeyGeneration.Algorithm] = [.rsa, .ed25519], keyDomain: String = "example.test",
        configure: (inout PostOfficeConfiguration) -> Void = { _ in }
    ) throws -> (TestPostOffice, [DKIMKeyGeneration]) {
        var keys: [DKIMKeyGeneration] = []
        var failure: (any Error)?
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"]) { configuration in
            do {
                for algorithm in algorithms {
                    keys.append(try DKIMKeyGeneration.generate(
                        domain: keyDomain, algorithm: algorithm, directory: configuration.dkimKeyDirectory))
                }
            } catch {
                failure = error
            }
            configure(&configuration)
        }
        if let failure {
            office.stop()
            throw failure
        }
        return (office, keys)
    }

    /// Sends `texts` through the submission port as alice, to bob; returns bob's stored messages (raw bytes,
    /// line ends back to CRLF as a verifier reading the Maildir would).
    static func submit(_ texts: [String], through office: TestPostOffice) throws -> [[UInt8]] {
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        #expect(try client.readReply().code == 220)
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        for text in texts {
            let reply = try client.sendMail(from: "alice@example.test", to: ["bob@example.test"], body: text)
            #expect(reply.code == 250, "\(reply)")
        }
        _ = try office.waitForMessage(for: "bob@example.test", count: texts.count)
        return try stored(for: "bob@example.test", in: office)
    }

    static func stored(for address: String, in office: TestPostOffice) throws -> [[UInt8]] {
        let parsed = try #require(MailAddress(address))
        let path = try #require(office.server.maildirPath(for: parsed)) + "/new"
        // In delivery order: by the name's seconds and microseconds as numbers (`M99999` sorts after `M100000`
        // as text, which once put the second message first).
        func time(_ name: String) -> [Int] {
            let parts = name.split(separator: ".")
            let seconds = parts.first.flatMap { Int($0) } ?? 0
            let micros = parts.count > 1 ? Int(parts[1].dropFirst().prefix { $0.isNumber }) ?? 0 : 0
            return [seconds, micros]
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }
            .sorted { time($0).lexicographicallyPrecedes(time($1)) }
        return try names.map { DKIMVerifiers.crlf(Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + $0)))) }
    }

    /// The DKIM-Signature fields' `a=` values, sorted (the keys sign in the order of their file names).
    static func algorithms(_ message: [UInt8]) -> [String] {
        let text = String(decoding: message, as: UTF8.self)
        let header = text.components(separatedBy: "\r\n\r\n").first ?? ""
        return header.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("dkim-signature:") }.compactMap { line in
            line.components(separatedBy: ";").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("a=") }
        }.sorted()
    }

    /// The same message with a changed body (a verifier that says "pass" to this is not checking).
    static func tampered(_ message: [UInt8]) -> [UInt8] {
        message + Array("tampered\r\n".utf8)
    }

    @Test(.enabled(if: DKIMVerifiers.hasDkimpy, "needs /usr/bin/python3 with dkim (apt package python3-dkim)"))
    func submittedMailIsSignedWithBothKeysAndDkimpyVerifiesIt() throws {
        let (office, keys) = try Self.office()
        defer { office.stop() }
        let stored = try Self.submit(Self.messages.map(\.text) + [Self.large], through: office)
        #expect(stored.count == Self.messages.count + 1)
        for message in stored {
            #expect(Self.algorithms(message) == ["a=ed25519-sha256", "a=rsa-sha256"])
        }
        let records = DKIMVerifiers.records(keys)
        let verdicts = try DKIMVerifiers.dkimpy(stored, records: records)
        #expect(verdicts == Array(repeating: "pass pass", count: stored.count), "\(zip(Self.messages.map(\.name) + ["large"], verdicts).map { "\($0): \($1)" })")
        let tampered = try DKIMVerifiers.dkimpy([Self.tampered(stored[0])], records: records)
        #expect(tampered.count == 1 && tampered[0].hasPrefix("fail") && !tampered[0].contains("pass"), "\(tampered)")
    }

    @Test(.enabled(if: DKIMVerifiers.hasOpenDKIM, "needs opendkim-testmsg (opendkim-tools), dnsmasq (dnsmasq-base), unshare, root"))
    func openDKIMVerifiesOurRSAAndEd25519Signatures() throws {
        for algorithm in DKIMKeyGeneration.Algorithm.allCases {
            let (office, keys) = try Self.office(algorithms: [algorithm])
            defer { office.stop() }
            let stored = try Self.submit(Self.messages.map(\.text), through: office)
            for message in stored { #expect(Self.algorithms(message) == ["a=\(algorithm.rawValue)-sha256"]) }
            let records = DKIMVerifiers.records(keys)
            let verdicts = try DKIMVerifiers.openDKIM(stored + [Self.tampered(stored[0])], records: records)
            #expect(
                Array(verdicts.prefix(stored.count)) == Array(repeating: "pass", count: stored.count),
                "\(algorithm): \(zip(Self.messages.map(\.name), verdicts).map { "\($0): \($1)" })")
            #expect(verdicts.last != "pass", "OpenDKIM passed a changed body: \(algorithm)")
        }
    }

    @Test func mailFromADomainWithoutAKeyOrFromASubdomainIsNotSigned() throws {
        let (office, _) = try Self.office(algorithms: [.ed25519])
        defer { office.stop() }
        let stored = try Self.submit([
            "From: alice@elsewhere.test\nSubject: other domain\n\nhi\n",
            "From: alice@sub.example.test\nSubject: subdomain: exact match only\n\nhi\n",
            "From: alice@EXAMPLE.test\nSubject: case does not matter\n\nhi\n",
        ], through: office)
        #expect(stored.map(Self.algorithms) == [[], [], ["a=ed25519-sha256"]])
    }

    @Test func noKeyDirectoryMeansNothingIsSigned() throws {
        let (office, _) = try Self.office(algorithms: [])
        defer { office.stop() }
        let stored = try Self.submit(["From: alice@example.test\nSubject: plain\n\nhi\n"], through: office)
        #expect(stored.map(Self.algorithms) == [[]])
    }

    @Test(.enabled(if: DKIMVerifiers.hasDkimpy, "needs /usr/bin/python3 with dkim (apt package python3-dkim)"))
    func sendmailMailIsSigned() throws {
        let (office, keys) = try Self.office()
        defer { office.stop() }
        for text in [Self.messages[0].text, Self.large] {
            let result = office.server.submit(
                from: MailAddress("alice@example.test"), to: [try #require(MailAddress("bob@example.test"))], message: Array(text.utf8))
            #expect(result.isDelivered, "\(result.reason)")
        }
        let stored = try Self.stored(for: "bob@example.test", in: office)
        #expect(stored.count == 2)
        #expect(stored.map(Self.algorithms) == Array(repeating: ["a=ed25519-sha256", "a=rsa-sha256"], count: 2))
        #expect(try DKIMVerifiers.dkimpy(stored, records: DKIMVerifiers.records(keys)) == ["pass pass", "pass pass"])
    }

    @Test func keysFollowAReloadAndABrokenKeyRefusesIt() throws {
        let (office, _) = try Self.office(algorithms: [])
        defer { office.stop() }
        let directory = office.server.currentConfiguration.dkimKeyDirectory
        #expect(try Self.submit(["From: alice@example.test\nSubject: before\n\nhi\n"], through: office).map(Self.algorithms) == [[]])
        _ = try DKIMKeyGeneration.generate(domain: "example.test", algorithm: .ed25519, directory: directory)
        try office.server.reload(configuration: office.server.currentConfiguration)
        let after = try Self.submit(["From: alice@example.test\nSubject: after\n\nhi\n"], through: office)
        #expect(after.map(Self.algorithms) == [[], ["a=ed25519-sha256"]])
        // A key that does not load refuses the reload, naming the file; the keys in force stay.
        try "not a key\n".write(toFile: directory + "/example.test/broken.pem", atomically: true, encoding: .utf8)
        #expect { try office.server.reload(configuration: office.server.currentConfiguration) } throws: { error in
            "\(error)".contains("broken.pem")
        }
        let still = try Self.submit(["From: alice@example.test\nSubject: still\n\nhi\n"], through: office)
        #expect(still.map(Self.algorithms).last == ["a=ed25519-sha256"])
    }

    @Test func aBrokenKeyStopsTheStartWithTheFileNamed() throws {
        #expect {
            _ = try Self.office(algorithms: [.rsa]) { configuration in
                try? "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".write(
                    toFile: configuration.dkimKeyDirectory + "/example.test/bad.pem", atomically: true, encoding: .utf8)
            }
        } throws: { error in
            "\(error)".contains("bad.pem") && "\(error)".contains("dkim_key_directory")
        }
    }

    @Test func generateRefusesToOverwriteAndSplitsLongRecords() throws {
        let directory = try LiveTestSupport.temporaryDirectory("dkim-generate")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rsa = try DKIMKeyGeneration.generate(domain: "Example.COM.", directory: directory)
        #expect(rsa.keyPath == directory + "/example.com/rsa.pem")
        #expect(rsa.recordName == "rsa._domainkey.example.com.")
        #expect(rsa.recordText.hasPrefix("v=DKIM1; k=rsa; p=MII"))
        // RSA-2048's record is longer than one 255-byte string: split, each quoted.
        let strings = rsa.zoneLine.components(separatedBy: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        #expect(strings.count == 2)
        #expect(strings.allSatisfy { $0.utf8.count <= 255 })
        #expect(strings.joined() == rsa.recordText)
        #expect(rsa.zoneLine.hasPrefix("rsa._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p="))
        let attributes = try FileManager.default.attributesOfItem(atPath: rsa.keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(throws: DKIMKeyGeneration.Refusal.self) { try DKIMKeyGeneration.generate(domain: "example.com", directory: directory) }
        let ed = try DKIMKeyGeneration.generate(domain: "example.com", algorithm: .ed25519, directory: directory)
        #expect(ed.zoneLine.hasPrefix("ed25519._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p="))
        #expect(throws: DKIMKeyGeneration.Refusal.self) { try DKIMKeyGeneration.generate(domain: "not a domain", directory: directory) }
        #expect(throws: DKIMKeyGeneration.Refusal.self) {
            try DKIMKeyGeneration.generate(domain: "example.com", selector: "bad/selector", directory: directory)
        }
        #expect(try DKIMKeyStore.load(directory: directory)["example.com"]?.map(\.selector) == ["ed25519", "rsa"])
    }

    @Test(.enabled(if: DKIMVerifiers.hasDkimpy, "needs /usr/bin/python3 with dkim (apt package python3-dkim)"))
    func deliveryReportsFromTheHostNameAreSigned() throws {
        let keyDirectory = try LiveTestSupport.temporaryDirectory("dkim-reports")
        defer { try? FileManager.default.removeItem(atPath: keyDirectory) }
        let keys = [
            try DKIMKeyGeneration.generate(domain: "mx.example.org", directory: keyDirectory),
            try DKIMKeyGeneration.generate(domain: "mx.example.org", algorithm: .ed25519, directory: keyDirectory),
        ]
        let clock = ManualClock(MailTime(seconds: 1_700_000_000))
        let logs = BounceTests.RecordingLogSink()
        let store = try QueueStore(
            path: try LiveTestSupport.temporaryDirectory("dkim-queue"), clock: clock, random: SeededRandomSource(seed: 3), logSink: logs)
        let transport = QueueManagerTests.ScriptedTransport()
        transport.answer = { _, indices, domain in
            OutboundAttempt(
                outcomes: Dictionary(uniqueKeysWithValues: indices.map {
                    ($0, .failed(EnhancedStatusCode(5, 1, 1), "mx.\(domain): 550 5.1.1 user unknown"))
                }),
                destinationReachable: true)
        }
        let local = BounceTests.RecordingLocalDelivery(domains: ["example.org", "mx.example.org"])
        var settings = QueueManager.Settings()
        settings.hostname = "mx.example.org"
        settings.signer = DKIMKeyStore(keys: try DKIMKeyStore.load(directory: keyDirectory), clock: clock, logSink: logs)
        let manager = QueueManager(
            store: store, transport: transport, localDelivery: local, clock: clock, random: SeededRandomSource(seed: 5),
            logSink: logs, settings: settings)
        // A full report (RET=FULL) and a headers-only one, each returning 8-bit text.
        for ret in ["FULL", "HDRS"] {
            let draft = try store.begin(QueueEnvelope(
                reversePath: MailAddress("alice@example.org"), arrival: clock.now(),
                recipients: [QueueRecipient(try #require(MailAddress("bob@elsewhere.test")))], returnContent: ret, is8Bit: true))
            try draft.append(Array("From: alice@example.org\r\nSubject: Lunch \u{2615}\r\n\r\nShall we meet at noon? Caf\u{E9}.  \r\n".utf8))
            _ = try draft.commit()
        }
        manager.scan()
        let reports = local.delivered.filter { $0.from == nil }
        #expect(reports.count == 2)
        for report in reports {
            #expect(Self.algorithms(report.bytes) == ["a=ed25519-sha256", "a=rsa-sha256"])
            #expect(report.text.contains("d=mx.example.org"))
        }
        #expect(try DKIMVerifiers.dkimpy(reports.map(\.bytes), records: DKIMVerifiers.records(keys)) == ["pass pass", "pass pass"])
    }

    /// `postoffice dkim generate` through the binary: the key file (0600), the zone line whose `p=` is the
    /// key's public half as openssl reads it, and the refusal to overwrite, which names the file.
    @Test(.enabled(if: CommandLineEndToEndTests.binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: ExternalTool.path("openssl") != nil, "openssl is not installed"))
    func dkimGenerateThroughTheBinary() throws {
        let data = try LiveTestSupport.temporaryDirectory("dkim-cli")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try CommandLineEndToEndTests.run(["--data", data, "dkim", "generate", "example.com"])
        #expect(first.status == 0, "\(first.errorOutput)")
        let keyPath = data + "/dkim/example.com/rsa.pem"
        #expect(first.output.contains("wrote \(keyPath)"))
        let zoneLine = try #require(first.output.split(separator: "\n").first { $0.hasPrefix("rsa._domainkey.example.com. IN TXT ") })
        let record = zoneLine.components(separatedBy: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined()
        let publicKey = try ExternalTool.run("openssl", ["pkey", "-in", keyPath, "-pubout", "-outform", "DER"])
        #expect(publicKey.status == 0)
        let der = try ExternalTool.run("sh", ["-c", "openssl pkey -in '\(keyPath)' -pubout -outform DER | base64 -w0"])
        #expect(record == "v=DKIM1; k=rsa; p=" + der.output)
        #expect((try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int) == 0o600)

        let again = try CommandLineEndToEndTests.run(["--data", data, "dkim", "generate", "example.com"])
        #expect(again.status == 1)
        #expect(again.errorOutput.contains("\(keyPath) already exists"))
        #expect(again.errorOutput.contains("--selector"))

        let ed = try CommandLineEndToEndTests.run(["--data", data, "dkim", "generate", "example.com", "--algorithm", "ed25519", "--selector", "2027a"])
        #expect(ed.status == 0, "\(ed.errorOutput)")
        #expect(ed.output.contains("2027a._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p="))
        let edDER = try ExternalTool.run("sh", ["-c", "openssl pkey -in '\(data)/dkim/example.com/2027a.pem' -pubout -outform DER | tail -c 32 | base64 -w0"])
        #expect(ed.output.contains("p=" + edDER.output + "\""))

        let bad = try CommandLineEndToEndTests.run(["--data", data, "dkim", "generate", "example.com", "--algorithm", "dsa"])
        #expect(bad.status == 2)
        #expect(bad.errorOutput.contains("rsa or ed25519"))
    }

    /// Mail for another domain is committed to the outbound queue with its signatures (the wire form the next
    /// server receives, under our Received: header) before the 250.
    @Test(.enabled(if: DKIMVerifiers.hasDkimpy, "needs /usr/bin/python3 with dkim (apt package python3-dkim)"))
    func queuedMailForAnotherDomainCarriesTheSignatures() throws {
        let (office, keys) = try Self.office { configuration in
            configuration.deliversOutbound = true
            // Nobody answers there: the message stays in the queue for the test to read.
            configuration.relayHost = SocketAddress(host: "127.0.0.1", port: 1)
            configuration.queueRunIntervalSeconds = 3600
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        #expect(try client.readReply().code == 220)
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "pw").code == 235)
        let reply = try client.sendMail(from: "alice@example.test", to: ["carol@elsewhere.test"], body: Self.messages[3].text)
        #expect(reply.code == 250, "\(reply)")
        let store = try QueueStore(
            path: office.server.currentConfiguration.queueDirectory, clock: SystemClock(), random: SystemRandomSource(),
            logSink: DiscardingLogSink())
        let queued = try store.scan()
        #expect(queued.count == 1)
        let message = try #require(queued.first)
        let body = try store.openBody(message.id).readAll()
        #expect(String(decoding: body, as: UTF8.self).hasPrefix("Received: "))
        #expect(Self.algorithms(body) == ["a=ed25519-sha256", "a=rsa-sha256"])
        #expect(try DKIMVerifiers.dkimpy([body], records: DKIMVerifiers.records(keys)) == ["pass pass"])
    }
}
