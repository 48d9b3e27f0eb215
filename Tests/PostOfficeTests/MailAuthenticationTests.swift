// MailAuthenticationTests: SPF, DKIM and DMARC on inbound mail. Unit tests of the Authentication-Results
// header, the authserv-id reader and the forged-header removal; live tests against dnsmasq serving SPF,
// DKIM key and DMARC TXT records to a real server (pass, p=reject refused, p=quarantine into .Junk, DNS down
// gives temperror and the mail is accepted, spf_policy = reject-fail). Needs apt package dnsmasq-base.

import Foundation
import PostOfficeCore
import PostOfficeDKIM
import PostOfficeDelivery
import PostOfficeDNS
import PostOfficeSPF
import PostOfficeTesting
import Testing
@testable import PostOffice

/// Collects what a sink is given.
final class CollectingSink: MessageSink, @unchecked Sendable {
    private(set) var bytes: [UInt8] = []
    func append(_ bytes: [UInt8]) { self.bytes += bytes }
    func commit() -> DeliveryOutcome { .delivered([]) }
    func abort() {}
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

struct AuthenticationResultsHeaderTests {
    static let client = SPFIPAddress("192.0.2.1")!

    @Test func composesOneFieldWithEveryResultOnItsOwnLine() {
        let spf = SPFOutcome(
            result: .pass, mechanism: "ip4:192.0.2.0/24",
            request: SPFRequest(mailFrom: "alice@example.org", helo: "mail.example.org", clientAddress: Self.client))
        let dkim = [
            DKIMResult(status: .pass, domain: "example.org", selector: "sel", signatureText: "abcdefghijkl"),
            DKIMResult(status: .fail, reason: .bodyHashMismatch, domain: "other.example", selector: "s2"),
        ]
        let dmarc = DMARCEvaluation.evaluate(DMARCRequest(
            fromDomain: "example.org", spfResult: .pass, spfDomain: "example.org",
            dkimResults: [.init(domain: "example.org", passed: true)], publicSuffixList: PublicSuffixList(rules: ["org"]))
        ) { question in
            question.name == "_dmarc.example.org" ? .records([.txt("v=DMARC1; p=reject")]) : .nxdomain
        }
        let header = AuthenticationResultsHeader(authservID: "mx.example.net", spf: spf, dkim: dkim, dmarc: dmarc)
        #expect(header.field == """
            Authentication-Results: mx.example.net;\r
            \tspf=pass smtp.mailfrom=alice@example.org;\r
            \tdkim=pass header.d=example.org header.s=sel header.b=abcdefgh;\r
            \tdkim=fail reason="body hash mismatch" header.d=other.example header.s=s2;\r
            \tdmarc=pass (p=reject dis=none) header.from=example.org\r

            """)
    }

    @Test func heloIdentityAndMissingFromAndNothingChecked() {
        let spf = SPFOutcome(result: .temperror, request: SPFRequest(mailFrom: "", helo: "relay.example.org", clientAddress: Self.client))
        let header = AuthenticationResultsHeader(
            authservID: "mx.test", spf: spf, dkim: [.none], dmarc: nil, dmarcProblem: "no From: field")
        #expect(header.entries == ["spf=temperror smtp.helo=relay.example.org", "dkim=none", "dmarc=permerror (no From: field)"])
        #expect(AuthenticationResultsHeader(authservID: "mx.test", dkim: []).field == "Authentication-Results: mx.test; none\r\n")
    }

    @Test(arguments: [
        (" mx.test; spf=pass", "mx.test"),
        (" MX.Test;\r\n\tdkim=pass", "mx.test"),
        (" (a comment (nested)) mx.test ; none", "mx.test"),
        ("\"mx.test\"; none", "mx.test"),
        (" mx.test 1; none", "mx.test"),
        ("mx.test.evil.example; spf=pass", "mx.test.evil.example"),
        ("   ", nil),
    ] as [(String, String?)])
    func readsTheAuthservID(value: String, expected: String?) {
        #expect(AuthenticationResultsHeader.authservID(ofValue: Array(value.utf8)) == expected)
    }

    static let forgedMessage = """
        Authentication-Results: mx.test; spf=pass smtp.mailfrom=ceo@example.test\r
        Received: from somewhere\r
        Authentication-Results: other.example; dkim=fail\r
        authentication-results: (forged)\r
        \tMX.TEST; dkim=pass\r
        \theader.d=example.test\r
        From: Mallory <mallory@example.test>\r
        Subject: Authentication-Results: mx.test; spf=pass\r
        \r
        Authentication-Results: mx.test; this is the body\r

        """

    /// Every split of the message gives the same result: the two fields claiming mx.test are left out.
    @Test(arguments: [1, 3, 7, 64, 100_000])
    func leavesOutForgedFieldsWhateverTheSplit(chunkSize: Int) {
        let bytes = Array(Self.forgedMessage.utf8)
        var scanner = AuthenticationHeaderScanner(authservID: "mx.test")
        var start = 0
        while start < bytes.count {
            scanner.receive(Array(bytes[start..<min(bytes.count, start + chunkSize)]))
            start += chunkSize
        }
        scanner.finish()
        #expect(scanner.fromValues == [" Mallory <mallory@example.test>"])
        #expect(scanner.forgedRanges.count == 2)
        let sink = CollectingSink()
        start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunkSize)
            MailAuthenticationSink.emit(bytes[start..<end], at: start, skipping: scanner.forgedRanges, to: sink)
            start = end
        }
        #expect(sink.text == """
            Received: from somewhere\r
            Authentication-Results: other.example; dkim=fail\r
            From: Mallory <mallory@example.test>\r
            Subject: Authentication-Results: mx.test; spf=pass\r
            \r
            Authentication-Results: mx.test; this is the body\r

            """)
    }

    @Test(arguments: [
        ([" a@Example.ORG"], "example.org", nil),
        ([" \"Smith, J\" <j@sub.example.org> (work)"], "sub.example.org", nil),
        ([], nil, "no From: field"),
        ([" a@example.org", " b@example.org"], nil, "2 From: fields"),
        ([" a@example.org, b@example.net"], nil, "From: is not one address"),
    ] as [([String], String?, String?)])
    func findsTheFromDomain(values: [String], domain: String?, problem: String?) {
        let found = MailAuthenticationSink.fromDomain(values)
        #expect(found.domain == domain)
        #expect(found.problem == problem)
    }

    /// The fast path for the usual From: forms gives exactly what the general parser gives, and leaves every
    /// other form (nil) to it. `fast`: whether the fast path is expected to answer.
    @Test(arguments: [
        (" a@Example.ORG", true), ("a@example.org", true), (" a@example.org\r\n", true),
        (" Alice <alice@Mail.Example.org>", true), (" \"Smith, J\" <j@sub.example.org>", true),
        (" \"Jos\u{E9} <x@y>\" <jose@example.org>", false), (" Jos\u{E9} M\u{FC}ller <j@example.org>", true),
        (" \"\" <a@example.org>", true), (" <a@example.org>", true), ("\t<a@example.org>\t", true),
        (" \"Smith, J\" <j@sub.example.org> (work)", false), (" a@example.org (Alice)", false),
        (" \"a\\\"b\" <a@example.org>", false), (" a@example.org, b@example.net", false),
        (" <a@b@example.org>", false), (" a@b@example.org", false), (" <@example.org>", false), (" <a@>", false),
        (" <>", false), ("", false), (" ", false), (" local", false), (" <a @example.org>", false),
        (" Group: a@example.org;", false), (" <a@[192.0.2.1]>", false), (" \"a b\"@example.org", false),
        (" Name <a@example.org", false), (" Name a@example.org>", false), (" Name <a@example.org> x", false),
        (" \"open <a@example.org>", false), (" A <a@x.org> <b@y.org>", false), (" A > <a@example.org>", false),
        (" M\u{FC}ller@example.org", false), (" a@B\u{DC}CHER.example", false), (" a@example.org.", true),
        (" (c) a@example.org", false), (" A\r\n <a@Example.Org>\r\n", true), (" a\u{7F}b@example.org", false),
    ] as [(String, Bool)])
    func simpleFromDomainMatchesTheParser(value: String, fast: Bool) {
        let simple = MailAuthenticationSink.simpleFromDomain(value)
        #expect((simple != nil) == fast)
        if let simple {
            let parsed = AddressListParser.parse(value, defaultDomain: "")
            #expect(parsed.invalid.isEmpty)
            #expect(parsed.addresses.count == 1)
            #expect(parsed.addresses.first?.normalizedDomain == simple)
        }
    }
}

/// The held message reaches the real sink whole, the forged field left out, however it arrived: small pieces
/// gathered, large ones kept as they came, past the 64 KiB a message holds on its own (the shared budget) and
/// past that in the spool file. No From: and no signature, so the check asks no DNS.
struct MailAuthenticationSinkHoldingTests {
    static let forged = "Authentication-Results: mx.test; spf=pass\r\n\tdkim=pass\r\n"

    static func message(bodySize: Int, forgedAfterBody: Bool) -> [UInt8] {
        var text = "Received: from somewhere\r\n" + forged + "Subject: holding\r\n\r\n"
        var line = 0
        while text.utf8.count < bodySize {
            text += "line \(line) of the body, long enough to look like prose in a message\r\n"
            line += 1
        }
        // A forged field deep in the body is body text, not a header: it stays.
        if forgedAfterBody { text += forged }
        return Array(text.utf8)
    }

    @Test(arguments: [(300, 1), (300, 2), (70_000, 3), (200_000, 4), (1_300_000, 5)])
    func deliversTheHeldMessageWhole(bodySize: Int, seed: Int) throws {
        let directory = NSTemporaryDirectory() + "po-auth-holding-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let transport = DNSTransport(configuration: DNSResolverConfiguration(
            servers: [DNSServerAddress(address: IPAddress("127.0.0.1")!, port: 1)], timeoutSeconds: 1, attempts: 1))
        let authenticator = MailAuthenticator(
            transport: transport, publicSuffixList: PublicSuffixList(rules: ["test"]), random: SeededRandomSource(seed: 1))
        let collected = CollectingSink()
        let sink = MailAuthenticationSink(
            settings: MailAuthenticationSink.Settings(authservID: "mx.test"), authenticator: authenticator, spf: nil, now: 0,
            spoolDirectory: directory, spoolName: "auth-holding", logSink: DiscardingLogSink(), sessionID: "holding"
        ) { _ in collected }
        let bytes = Self.message(bodySize: bodySize, forgedAfterBody: seed % 2 == 0)
        let generator = SeededRandomSource(seed: UInt64(seed))
        var start = 0
        while start < bytes.count {
            // Small pieces (gathered) and large ones (kept as they came), mixed.
            let roll = Int(generator.next() % 100)
            let size = roll < 50 ? 1 + roll : 8_000 + Int(generator.next() % 9_000)
            let end = min(bytes.count, start + size)
            sink.append(Array(bytes[start..<end]))
            start = end
        }
        #expect(sink.commit() == .delivered([]))
        let header = AuthenticationResultsHeader(
            authservID: "mx.test", spf: nil, dkim: [.none], dmarc: nil, dmarcProblem: "no From: field")
        let forged = Array(Self.forged.utf8)
        let forgedStart = "Received: from somewhere\r\n".utf8.count
        let expected = header.fieldBytes + bytes[..<forgedStart] + bytes[(forgedStart + forged.count)...]
        #expect(collected.bytes.count == expected.count)
        #expect(collected.bytes == expected)
        #expect(authenticator.spool.sharedMemoryInUseCount == 0)
    }
}

/// The default explanation is composed only for a fail that needs it, after the evaluation: the outcome is
/// what evaluating a request that carried it from the start gives.
struct SPFDefaultExplanationTests {
    @Test(arguments: [
        "v=spf1 -all", "v=spf1 -all exp=explain.test", "v=spf1 -all exp=missing.test", "v=spf1 -all exp=two.test",
        "v=spf1 ~all", "v=spf1 +all", "v=spf1 ?all", "v=spf1 ip4:192.0.2.1 -all", "v=spf1 include:none.test -all",
    ])
    func addedAfterwardsAsTheEvaluationWouldHave(record: String) {
        let dns: (PolicyDNSQuestion) -> PolicyDNSAnswer = { question in
            switch question.name {
            case "example.org": .records([.txt(record)])
            case "explain.test": .records([.txt("go away, %{i}")])
            case "two.test": .records([.txt("one"), .txt("two")])
            default: .nxdomain
            }
        }
        let plain = SPFRequest(
            mailFrom: "a@example.org", helo: "h.example.org", clientAddress: SPFIPAddress("192.0.2.7")!, receiver: "mx.test",
            timestamp: 1)
        var withDefault = plain
        withDefault.defaultExplanation = "the SPF record of example.org does not permit 192.0.2.7 to send its mail"
        var expected = SPFEvaluation.evaluate(withDefault, dns: dns)
        var found = MailAuthenticator.explained(SPFEvaluation.evaluate(plain, dns: dns))
        #expect(found.explanation == expected.explanation)
        // Equal in everything else too; only the request's unread default explanation may differ (it is
        // set on a fail that used it).
        if found.explanation == withDefault.defaultExplanation { #expect(found == expected) }
        expected.request.defaultExplanation = nil
        found.request.defaultExplanation = nil
        #expect(found == expected)
    }
}

/// Answers converted from the DNS cache and kept (PolicyAnswerCache) are the answers the resolver gives
/// without them, first and every later time, and go when the cache entry expires. Everything is in the DNS
/// cache; the server address is a closed loopback port, never asked.
struct PolicyAnswerCacheTests {
    static func txt(_ owner: String, _ strings: [String], ttl: UInt32) -> DNSLookupResult {
        let name = try! DNSName(owner)
        return .answer(DNSAnswer(
            canonicalName: name, records: [DNSResourceRecord(name: name, ttl: ttl, data: .txt(strings.map { Array($0.utf8) }))], ttl: ttl))
    }

    @Test func keptAnswersAreTheAnswersUntilTheCacheEntryExpires() throws {
        let clock = ManualClock()
        let cache = DNSCache(clock: clock)
        cache.store(Self.txt("example.org", ["v=spf1 ", "-all"], ttl: 60), for: try DNSName("example.org"), .txt)
        cache.store(Self.txt("sel._domainkey.example.org", ["v=DKIM1; p=", "AAAA"], ttl: 60), for: try DNSName("sel._domainkey.example.org"), .txt)
        cache.store(.nameError(negativeTTL: 30), for: try DNSName("_dmarc.example.org"), .txt)
        cache.store(.noData(negativeTTL: 30), for: try DNSName("empty.example.org"), .txt)
        let transport = DNSTransport(
            configuration: DNSResolverConfiguration(
                servers: [DNSServerAddress(address: IPAddress("127.0.0.1")!, port: 1)], timeoutSeconds: 1, attempts: 1),
            cache: cache)
        let answers = PolicyAnswerCache()
        let kept = PolicyDNSResolver(transport: transport, timeoutSeconds: 5, answers: answers)
        let plain = PolicyDNSResolver(transport: transport, timeoutSeconds: 5)
        let questions = ["example.org", "_dmarc.example.org", "empty.example.org", "sel._domainkey.example.org", "bad..name"]
            .map { PolicyDNSQuestion(.txt, $0) }
        for _ in 0..<2 {
            for question in questions {
                #expect(kept.answer(question) == plain.answer(question))
                #expect(PolicyDNSResolver.cachedAnswer(question, in: cache, answers: answers) == PolicyDNSResolver.cachedAnswer(question, in: cache))
            }
            let query = DKIMKeyQuery(domain: "example.org", selector: "sel")
            #expect(kept.key(query) == plain.key(query))
        }
        #expect(kept.answer(questions[0]) == .records([.txt("v=spf1 -all")]))
        #expect(kept.key(DKIMKeyQuery(domain: "example.org", selector: "sel")) == .record("v=DKIM1; p=AAAA"))
        #expect(answers.count == 4)
        clock.advance(seconds: 30)  // the negative entries expire, the TXT records stay
        #expect(PolicyDNSResolver.cachedAnswer(questions[1], in: cache, answers: answers) == nil)
        #expect(PolicyDNSResolver.cachedAnswer(questions[0], in: cache, answers: answers) == .records([.txt("v=spf1 -all")]))
        clock.advance(seconds: 30)
        #expect(PolicyDNSResolver.cachedAnswer(questions[0], in: cache, answers: answers) == nil)
        #expect(PolicyDNSResolver.cachedAnswer(questions[3], in: cache, answers: answers) == nil)
    }

    /// A key answer read from a converted answer is what reading the DNS answer gives.
    @Test func keyAnswersFromConvertedAnswers() {
        #expect(PolicyDNSResolver.keyAnswer(.records([.txt("a"), .txt("b")])) == .record("a"))
        #expect(PolicyDNSResolver.keyAnswer(.noData) == .notFound)
        #expect(PolicyDNSResolver.keyAnswer(.nxdomain) == .notFound)
    }
}

struct MailAuthenticationSpoolTests {
    /// Spool files a crash left (untouched for over an hour) go at start-up; fresh ones and others stay.
    @Test func staleSpoolFilesAreRemoved() throws {
        let directory = NSTemporaryDirectory() + "po-auth-spool-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let now = 1_800_000_000
        for name in ["auth-old", "auth-fresh", "hook-old"] {
            #expect(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("x".utf8)))
            let age = name.hasSuffix("old") ? 7200 : 60
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: TimeInterval(now - age))], ofItemAtPath: directory + "/" + name)
        }
        #expect(MailAuthenticationSink.removeStaleSpoolFiles(in: directory, now: now) == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["auth-fresh", "hook-old"])
    }

    /// A spool file is anonymous (no name left in the directory), reads back what was written, and comes
    /// back empty from the pool for the next message instead of a new file being made.
    @Test func spoolFilesAreAnonymousAndReused() throws {
        let directory = NSTemporaryDirectory() + "po-auth-spool-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pool = MailAuthenticationSpool(maximumIdle: 1)
        let first = try pool.take(directory: directory, name: "auth-1")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        try first.append(Array("hello, ".utf8))
        try first.append(Array("world".utf8))
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(try first.read(at: 0, into: &buffer) == 8)
        #expect(buffer == Array("hello, w".utf8))
        #expect(try first.read(at: 8, into: &buffer) == 4)
        #expect(Array(buffer[..<4]) == Array("orld".utf8))
        #expect(try first.read(at: 12, into: &buffer) == 0)
        pool.giveBack(first)
        let second = try pool.take(directory: directory, name: "auth-2")
        let third = try pool.take(directory: directory, name: "auth-3")
        #expect(pool.createdCount == 2)  // the second reused the first's file
        #expect(second.size == 0)
        try second.append(Array("x".utf8))
        #expect(try second.read(at: 0, into: &buffer) == 1)
        #expect(buffer[0] == UInt8(ascii: "x"))
        pool.giveBack(second)
        pool.giveBack(second)  // a second return is ignored: the idle list holds the descriptor once
        pool.giveBack(third)  // over maximumIdle: closed
        _ = try pool.take(directory: directory, name: "auth-4")  // the one idle file
        _ = try pool.take(directory: directory, name: "auth-5")  // none idle: a new one
        #expect(pool.createdCount == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    /// The memory messages hold beyond their own 64 KiB comes from one server-wide budget: claims past it are
    /// refused (the message spools instead) until others are returned.
    @Test func theSharedMemoryBudgetIsBounded() {
        let pool = MailAuthenticationSpool(sharedMemoryBudget: 1000)
        #expect(pool.reserveMemory(600))
        #expect(pool.reserveMemory(400))
        #expect(!pool.reserveMemory(1))
        #expect(pool.sharedMemoryInUseCount == 1000)
        pool.releaseMemory(600)
        #expect(!pool.reserveMemory(601))
        #expect(pool.reserveMemory(600))
        pool.releaseMemory(1000)
        #expect(pool.sharedMemoryInUseCount == 0)
    }
}

@Suite(.enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"))
struct MailAuthenticationLiveTests {
    /// A fixed Ed25519 key (RFC 8463 keys are 32-byte seeds) for the `sel._domainkey.pass.test` record.
    static let key = try! DKIMPrivateKey(ed25519Seed: Array(repeating: 7, count: 32))

    /// dnsmasq records: pass.test lets 127.0.0.1 send and signs; fail.test and junk.test allow nobody.
    static var records: [String] {
        [
            "--txt-record=pass.test,v=spf1 ip4:127.0.0.1 -all",
            "--txt-record=sel._domainkey.pass.test,\(key.keyRecord.serialized)",
            "--txt-record=_dmarc.pass.test,v=DMARC1; p=reject",
            "--txt-record=fail.test,v=spf1 -all",
            "--txt-record=_dmarc.fail.test,v=DMARC1; p=reject",
            "--txt-record=junk.test,v=spf1 -all",
            "--txt-record=_dmarc.junk.test,v=DMARC1; p=quarantine",
        ]
    }

    static func office(dns: String, _ configure: @escaping (inout PostOfficeConfiguration) -> Void = { _ in }) throws -> TestPostOffice {
        try TestPostOffice(users: ["alice@example.test": "secret"]) {
            $0.mailAuthenticationSkipNetworks = []  // the test client is on loopback
            $0.dnsServers = [dns]
            configure(&$0)
        }
    }

    static func message(from: String, subject: String, extraHeaders: String = "") -> String {
        "\(extraHeaders)From: \(from)\r\nTo: alice@example.test\r\nSubject: \(subject)\r\nDate: Sun, 6 Dec 2026 16:00:00 +0000\r\n\r\nHello.\r\n"
    }

    static func signed(_ message: String) throws -> String {
        var signer = DKIMSigner(
            keys: [DKIMSigningKey(privateKey: key, domain: "pass.test", selector: "sel")], time: Int(Date().timeIntervalSince1970))
        signer.receive(Array(message.utf8))
        return try signer.finish().joined() + message
    }

    static func send(_ office: TestPostOffice, from sender: String, _ message: String) throws -> SMTPTestReply {
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.pass.test")
        return try client.sendMail(from: sender, to: ["alice@example.test"], body: message)
    }

    @Test func signedMailFromAPermittedHostPassesAndForgedResultsAreRemoved() throws {
        let dns = try DNSMasqServer(records: Self.records)
        let office = try Self.office(dns: "\(DNSMasqServer.host):\(dns.port)") {
            $0.enforcesDMARC = true
            $0.addsReceivedSPFHeader = true
        }
        defer { office.stop() }
        let forged = "Authentication-Results: mx.test; spf=pass dkim=pass dmarc=pass (forged)\r\n"
            + "Authentication-Results: upstream.example; spf=fail\r\n"
        let message = try Self.signed(Self.message(from: "Bob <bob@pass.test>", subject: "signed", extraHeaders: forged))
        let reply = try Self.send(office, from: "bob@pass.test", message)
        #expect(reply.code == 250, "\(reply)")
        let stored = try office.waitForMessage(for: "alice@example.test")
        // Maildir files end lines in LF.
        #expect(stored.contains("Authentication-Results: mx.test;\n\tspf=pass smtp.mailfrom=bob@pass.test;\n\tdkim=pass header.d=pass.test header.s=sel"))
        #expect(stored.contains("\tdmarc=pass (p=reject dis=none) header.from=pass.test\n"))
        #expect(stored.contains("Received-SPF: pass (mx.test: domain of bob@pass.test designates 127.0.0.1 as permitted sender)"))
        #expect(!stored.contains("(forged)"))
        #expect(stored.components(separatedBy: "Authentication-Results: mx.test").count == 2)
        #expect(stored.contains("Authentication-Results: upstream.example; spf=fail"))
    }

    @Test(arguments: [true, false])
    func dmarcRejectFailureIsRefusedOnlyWhenEnforced(enforced: Bool) throws {
        let dns = try DNSMasqServer(records: Self.records)
        let office = try Self.office(dns: "\(DNSMasqServer.host):\(dns.port)") { $0.enforcesDMARC = enforced }
        defer { office.stop() }
        let reply = try Self.send(office, from: "ceo@fail.test", Self.message(from: "ceo@fail.test", subject: "wire money"))
        if enforced {
            #expect(reply.code == 550, "\(reply)")
            #expect(reply.enhancedCode == "5.7.1")
            #expect(reply.lines.joined().contains("DMARC policy of fail.test"))
            #expect(office.messages(for: "alice@example.test").isEmpty)
        } else {
            #expect(reply.code == 250, "\(reply)")
            let stored = try office.waitForMessage(for: "alice@example.test")
            #expect(stored.contains("spf=fail smtp.mailfrom=ceo@fail.test"))
            #expect(stored.contains("dkim=none"))
            #expect(stored.contains("dmarc=fail (p=reject dis=reject) header.from=fail.test"))
        }
    }

    @Test func dmarcQuarantineFailureGoesToTheJunkFolder() throws {
        let dns = try DNSMasqServer(records: Self.records)
        let office = try Self.office(dns: "\(DNSMasqServer.host):\(dns.port)") { $0.enforcesDMARC = true }
        defer { office.stop() }
        let reply = try Self.send(office, from: "news@junk.test", Self.message(from: "news@junk.test", subject: "offer"))
        #expect(reply.code == 250, "\(reply)")
        let maildir = try #require(office.server.maildirPath(for: MailAddress("alice@example.test")!))
        let junk = (try? FileManager.default.contentsOfDirectory(atPath: maildir + "/.Junk/new")) ?? []
        #expect(junk.count == 1)
        #expect(office.messages(for: "alice@example.test").isEmpty)
        let stored = try String(contentsOfFile: maildir + "/.Junk/new/" + #require(junk.first), encoding: .utf8)
        #expect(stored.contains("dmarc=fail (p=quarantine dis=quarantine) header.from=junk.test"))
        #expect(FileManager.default.fileExists(atPath: maildir + "/.Junk/maildirfolder"))
    }

    @Test func spfRejectFailRefusesAtMailFromWithTheExplanation() throws {
        let dns = try DNSMasqServer(records: Self.records)
        let office = try Self.office(dns: "\(DNSMasqServer.host):\(dns.port)") { $0.rejectsSPFFail = true }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        let refused = try client.command("MAIL FROM:<ceo@fail.test>")
        #expect(refused.code == 550, "\(refused)")
        #expect(refused.enhancedCode == "5.7.23")
        #expect(refused.lines.joined().contains("does not permit 127.0.0.1"))
        // A pass goes on as usual.
        #expect(try client.command("MAIL FROM:<bob@pass.test>").code == 250)
    }

    /// A repeat sender's checks come from the DNS cache (SPF at MAIL FROM without leaving the event loop):
    /// with the DNS server gone, the second message gets the first one's results, and an SPF fail still refuses.
    @Test func repeatSenderIsCheckedFromTheCacheWithTheSameResults() throws {
        var dns: DNSMasqServer? = try DNSMasqServer(records: Self.records)
        let office = try Self.office(dns: "\(DNSMasqServer.host):\(dns!.port)") {
            $0.enforcesDMARC = true
            $0.rejectsSPFFail = true
        }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.pass.test")
        #expect(try client.command("MAIL FROM:<ceo@fail.test>").code == 550)
        #expect(try client.command("RSET").code == 250)
        let message = try Self.signed(Self.message(from: "bob@pass.test", subject: "first"))
        #expect(try client.sendMail(from: "bob@pass.test", to: ["alice@example.test"], body: message).code == 250)
        _ = try office.waitForMessage(for: "alice@example.test")
        dns = nil  // dnsmasq stopped: only the cache answers now
        let refused = try client.command("MAIL FROM:<ceo@fail.test>")
        #expect(refused.code == 550, "\(refused)")
        #expect(refused.enhancedCode == "5.7.23")
        #expect(refused.lines.joined().contains("does not permit 127.0.0.1"))
        #expect(try client.command("RSET").code == 250)
        let second = try Self.signed(Self.message(from: "bob@pass.test", subject: "second"))
        #expect(try client.sendMail(from: "bob@pass.test", to: ["alice@example.test"], body: second).code == 250)
        _ = try office.waitForMessage(for: "alice@example.test", count: 2)
        let repeated = try #require(office.messages(for: "alice@example.test").first { $0.contains("Subject: second") })
        #expect(repeated.contains("spf=pass smtp.mailfrom=bob@pass.test"))
        #expect(repeated.contains("dkim=pass header.d=pass.test header.s=sel"))
        #expect(repeated.contains("dmarc=pass (p=reject dis=none) header.from=pass.test"))
    }

    /// No DNS server: every lookup is a temporary error; even with both policies strict, the mail is accepted.
    @Test func dnsDownGivesTemperrorAndTheMailIsAccepted() throws {
        let office = try Self.office(dns: "\(DNSMasqServer.host):1") {
            $0.enforcesDMARC = true
            $0.rejectsSPFFail = true
        }
        defer { office.stop() }
        let message = try Self.signed(Self.message(from: "bob@pass.test", subject: "no dns"))
        let reply = try Self.send(office, from: "bob@pass.test", message)
        #expect(reply.code == 250, "\(reply)")
        let stored = try office.waitForMessage(for: "alice@example.test")
        #expect(stored.contains("spf=temperror smtp.mailfrom=bob@pass.test"))
        #expect(stored.contains("dkim=temperror"))
        #expect(stored.contains("dmarc=temperror"))
    }

    /// A 1.2 MB message outgrows what a message may hold in memory (1 MiB) and moves to a spool file: its
    /// signature still verifies, the forged field is still removed, the body arrives whole, and the spool file
    /// is gone afterwards. (The other large messages here, 100–300 KB, stay in memory on the shared budget.)
    @Test func largeMessageIsSpooledAndVerified() throws {
        let dns = try DNSMasqServer(records: Self.records)
        let office = try Self.office(dns: "\(DNSMasqServer.host):\(dns.port)")
        defer { office.stop() }
        let line = String(repeating: "0123456789", count: 7) + "\r\n"
        let body = String(repeating: line, count: 17_000) + "the end\r\n"
        let message = try Self.signed(
            "Authentication-Results: mx.test; dkim=pass (forged)\r\nFrom: bob@pass.test\r\nSubject: big\r\n\r\n" + body)
        #expect(try Self.send(office, from: "bob@pass.test", message).code == 250)
        let stored = try office.waitForMessage(for: "alice@example.test")
        #expect(stored.contains("dkim=pass header.d=pass.test"))
        #expect(stored.contains("dmarc=pass"))
        #expect(!stored.contains("(forged)"))
        #expect(stored.hasSuffix(body.replacingOccurrences(of: "\r\n", with: "\n")))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: office.dataDirectory + "/spool")) ?? ["?"]).isEmpty)
        // A second, shorter large message reuses the emptied spool file: nothing of the first shows through.
        let shorterBody = String(repeating: "abcdefghij" + line, count: 13_000) + "the other end\r\n"
        let second = try Self.signed("From: bob@pass.test\r\nSubject: big again\r\n\r\n" + shorterBody)
        #expect(try Self.send(office, from: "bob@pass.test", second).code == 250)
        _ = try office.waitForMessage(for: "alice@example.test", count: 2)
        let secondStored = office.messages(for: "alice@example.test").first { $0.contains("Subject: big again") } ?? ""
        #expect(secondStored.contains("dkim=pass header.d=pass.test"))
        #expect(secondStored.hasSuffix("\n\n" + shorterBody.replacingOccurrences(of: "\r\n", with: "\n")))
    }

    /// Large (spooled) messages meet each verdict on one server: refused (its spool file goes back to the pool),
    /// quarantined into .Junk whole, then a passing one whole too — nothing of the earlier ones shows through.
    @Test func largeMessagesAreRefusedQuarantinedAndDeliveredWhole() throws {
        let dns = try DNSMasqServer(records: Self.records)
        let office = try Self.office(dns: "\(DNSMasqServer.host):\(dns.port)") { $0.enforcesDMARC = true }
        defer { office.stop() }
        func body(_ text: String, lines: Int) -> String { String(repeating: text + " 0123456789 abcdefghij\r\n", count: lines) + "end\r\n" }
        let refused = try Self.send(office, from: "ceo@fail.test", Self.message(from: "ceo@fail.test", subject: "big refused")
            .replacingOccurrences(of: "Hello.\r\n", with: body("refused", lines: 6000)))
        #expect(refused.code == 550, "\(refused)")
        let junkBody = body("junk", lines: 4000)
        let quarantined = try Self.send(office, from: "news@junk.test", Self.message(from: "news@junk.test", subject: "big junk")
            .replacingOccurrences(of: "Hello.\r\n", with: junkBody))
        #expect(quarantined.code == 250, "\(quarantined)")
        let maildir = try #require(office.server.maildirPath(for: MailAddress("alice@example.test")!))
        let junk = (try? FileManager.default.contentsOfDirectory(atPath: maildir + "/.Junk/new")) ?? []
        #expect(junk.count == 1)
        let junkStored = try String(contentsOfFile: maildir + "/.Junk/new/" + #require(junk.first), encoding: .utf8)
        #expect(junkStored.hasSuffix("\n\n" + junkBody.replacingOccurrences(of: "\r\n", with: "\n")))
        let passBody = body("pass", lines: 2000)
        let passed = try Self.send(office, from: "bob@pass.test", try Self.signed("From: bob@pass.test\r\nSubject: big pass\r\n\r\n" + passBody))
        #expect(passed.code == 250, "\(passed)")
        let stored = try office.waitForMessage(for: "alice@example.test")
        #expect(stored.contains("dkim=pass header.d=pass.test"))
        #expect(stored.hasSuffix("\n\n" + passBody.replacingOccurrences(of: "\r\n", with: "\n")))
        #expect(office.messages(for: "alice@example.test").count == 1)
    }

    /// A DNS server that never answers: the checks give up at mail_authentication_timeout with temperror.
    @Test func silentDNSServerEndsInTemperrorAtTheDeadline() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.53.3", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) + getsockname(fd, $0, &length) }
        }
        let office = try Self.office(dns: "127.0.53.3:\(UInt16(bigEndian: address.sin_port))") {
            $0.mailAuthenticationTimeoutSeconds = 1
            $0.enforcesDMARC = true
        }
        defer { office.stop() }
        let message = try Self.signed(Self.message(from: "bob@pass.test", subject: "slow dns"))
        #expect(try Self.send(office, from: "bob@pass.test", message).code == 250)
        let stored = try office.waitForMessage(for: "alice@example.test")
        #expect(stored.contains("spf=temperror"))
        #expect(stored.contains("dkim=temperror"))
        #expect(stored.contains("dmarc=temperror"))
    }

    /// Mail a user submits after logging in is not checked, even when loopback is not skipped.
    @Test func submittedMailIsNotChecked() throws {
        let office = try Self.office(dns: "\(DNSMasqServer.host):1")
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "secret").code == 235)
        let reply = try client.sendMail(
            from: "alice@example.test", to: ["alice@example.test"], body: Self.message(from: "alice@example.test", subject: "mine"))
        #expect(reply.code == 250, "\(reply)")
        let stored = try office.waitForMessage(for: "alice@example.test")
        #expect(!stored.contains("Authentication-Results"))
    }

    /// Loopback clients (the default skip list) are not checked, and their Authentication-Results is left alone.
    @Test func loopbackMailIsNotChecked() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "secret"])
        defer { office.stop() }
        let message = Self.message(from: "bob@pass.test", subject: "local", extraHeaders: "Authentication-Results: mx.test; spf=pass\r\n")
        #expect(try Self.send(office, from: "bob@pass.test", message).code == 250)
        let stored = try office.waitForMessage(for: "alice@example.test")
        #expect(stored.contains("Authentication-Results: mx.test; spf=pass\n"))  // untouched: not ours to judge
        #expect(!stored.contains("dkim="))
    }
}
