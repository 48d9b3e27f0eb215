// DeliveryTransactionTests: byte-exact storage (LF endings, S= and W=), per-recipient copies and hard links,
// deduplication, and the all-or-nothing rule under injected failures, loops and size limits.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct DeliveryTransactionTests {
    static let message = "From: sender@example.com\r\nSubject: test\r\n\r\nline one\r\nbare\rcr\r\n\r\nlast line\r\n"

    static func lineFeeds(_ bytes: [UInt8]) -> Int { bytes.filter { $0 == 0x0A }.count }

    @Test func storesByteExactWithLFAndSizes() throws {
        let fixture = DeliveryFixture()
        let result = try fixture.deliver(bytes(Self.message), to: ["alice@example.org"])
        guard case .delivered(let names) = result.overall else {
            Issue.record("not delivered: \(result.overall)")
            return
        }
        let stored = fixture.storedMessages(fixture.maildir("alice", domain: "example.org"))
        try #require(stored.count == 1)
        #expect(names == [stored[0].name])
        let file = stored[0].bytes
        let body = bytes("From: sender@example.com\nSubject: test\n\nline one\nbare\rcr\n\nlast line\n")
        #expect(Array(file.suffix(body.count)) == body)
        let headers = Array(file.prefix(file.count - body.count))
        let headerText = String(decoding: headers, as: UTF8.self)
        #expect(headerText.hasPrefix("Return-Path: <sender@example.com>\nDelivered-To: alice@example.org\nReceived: from client.example.com"))
        #expect(headerText.contains("for <alice@example.org>; Tue, 14 Nov 2023 22:13:20 +0000\n"))
        // S= is the stored size; W= the size with CRLF endings: our headers in CRLF plus the message as received.
        #expect(stored[0].name.hasSuffix(",S=\(file.count),W=\(headers.count + Self.lineFeeds(headers) + Self.message.utf8.count)"))
        #expect(stored[0].name.hasPrefix("1700000000.M0P4242Q"))
        #expect(files(in: fixture.maildir("alice", domain: "example.org").tmpPath).isEmpty)
        let logged = fixture.logs.records.filter { $0.event == "delivery.stored" }
        #expect(logged.count == 1)
        #expect(logged.first?.sessionID == "s1")
        #expect(logged.first?["file"] == stored[0].name)
        #expect(result.recipients.map(\.outcome) == [.delivered([stored[0].name])])
    }

    @Test func maildirIsCreatedPrivate() throws {
        let fixture = DeliveryFixture()
        _ = try fixture.deliver(bytes(Self.message), to: ["carol@example.net"])
        let maildir = fixture.maildir("carol", domain: "example.net")
        for path in [maildir.path, maildir.tmpPath, maildir.newPath, maildir.curPath] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == 0o700, "\(path)")
        }
    }

    @Test func eachRecipientGetsItsOwnHeadersAndTheSameBody() throws {
        let syncer = CountingDirectorySyncer()
        let fixture = DeliveryFixture(syncer: syncer)
        let body = bytes(String(repeating: "0123456789abcdef\r\n", count: 5000))
        let result = try fixture.deliver(body, to: ["team@example.org", "alice@example.org", "carol@example.net"], chunk: 4093)
        guard case .delivered(let names) = result.overall else {
            Issue.record("not delivered: \(result.overall)")
            return
        }
        #expect(names.count == 3, "alice is reached twice but stored once")
        let expectedBody = bytes(String(repeating: "0123456789abcdef\n", count: 5000))
        for (user, domain) in [("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net")] {
            let stored = fixture.storedMessages(fixture.maildir(user, domain: domain))
            try #require(stored.count == 1, "\(user)")
            let file = stored[0].bytes
            #expect(Array(file.suffix(expectedBody.count)) == expectedBody)
            let headers = Array(file.prefix(file.count - expectedBody.count))
            let text = String(decoding: headers, as: UTF8.self)
            #expect(text.contains("Delivered-To: \(user)@\(domain)\n"))
            #expect(stored[0].name.hasSuffix(",S=\(file.count),W=\(file.count + Self.lineFeeds(file))"))
        }
        let aliceText = String(decoding: fixture.storedMessages(fixture.maildir("alice", domain: "example.org"))[0].bytes.prefix(400), as: UTF8.self)
        #expect(aliceText.contains("for <team@example.org>"), "the first envelope recipient reaching a mailbox names it")
        #expect(Set(syncer.directories).count == syncer.directories.count, "each new/ is synced once")
        #expect(syncer.directories.count == 3)
        #expect(result.recipients.count == 3)
        #expect(result.recipients[0].outcome == .delivered(Array(names.prefix(2))))
        #expect(fixture.logs.records.filter { $0.event == "delivery.stored" }.count == 3)
    }

    @Test func hardLinkModeSharesOneFile() throws {
        let fixture = DeliveryFixture(copyMethod: .hardLink)
        let result = try fixture.deliver(bytes(Self.message), to: ["team@example.org", "carol@example.net"])
        #expect(result.overall.isDelivered)
        var inodes: Set<UInt64> = []
        var contentsSeen: Set<[UInt8]> = []
        for (user, domain) in [("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net")] {
            let maildir = fixture.maildir(user, domain: domain)
            let stored = fixture.storedMessages(maildir)
            try #require(stored.count == 1)
            var info = stat()
            #expect(stat(maildir.newPath + "/" + stored[0].name, &info) == 0)
            inodes.insert(UInt64(info.st_ino))
            contentsSeen.insert(stored[0].bytes)
            let text = String(decoding: stored[0].bytes, as: UTF8.self)
            #expect(!text.contains("Delivered-To:"))
            #expect(!text.contains("\tfor <"))
            #expect(stored[0].name.hasSuffix(",S=\(stored[0].bytes.count),W=\(stored[0].bytes.count + Self.lineFeeds(stored[0].bytes))"))
            #expect(files(in: maildir.tmpPath).isEmpty)
        }
        #expect(inodes.count == 1)
        #expect(contentsSeen.count == 1)
    }

    @Test func subaddressFolderReceivesTheCopy() throws {
        let fixture = DeliveryFixture(deliversSubaddressToFolders: true)
        let inbox = fixture.maildir("alice", domain: "example.org")
        let folder = try #require(inbox.folder(named: "Lists"))
        try folder.create()
        let result = try fixture.deliver(bytes(Self.message), to: ["alice+Lists@example.org"])
        #expect(result.overall.isDelivered)
        #expect(fixture.storedMessages(folder).count == 1)
        #expect(fixture.storedMessages(inbox).isEmpty)
    }

    /// Makes carol's tmp/ a plain file so her copy cannot be written (works even as root).
    static func breakTmp(of maildir: Maildir) throws {
        try FileManager.default.createDirectory(atPath: maildir.path, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: maildir.tmpPath, contents: Data("not a directory".utf8))
    }

    @Test func aFailedCopyKeepsNoCopyAtAll() throws {
        let fixture = DeliveryFixture()
        try Self.breakTmp(of: fixture.maildir("carol", domain: "example.net"))
        let result = try fixture.deliver(bytes(Self.message), to: ["team@example.org", "carol@example.net"])
        #expect(result.overall.statusCode == EnhancedStatusCode(4, 3, 0))
        #expect(result.recipients.allSatisfy { $0.outcome == result.overall })
        for (user, domain) in [("alice", "example.org"), ("bob", "example.org")] {
            let maildir = fixture.maildir(user, domain: domain)
            #expect(files(in: maildir.newPath).isEmpty, "\(user) new/")
            #expect(files(in: maildir.tmpPath).isEmpty, "\(user) tmp/")
        }
        #expect(fixture.logs.records.contains { $0.event == "delivery.failed" && $0["status"] == "4.3.0" })
        #expect(!fixture.logs.records.contains { $0.event == "delivery.stored" })
    }

    @Test func aFailedDirectorySyncUnlinksRenamedCopies() throws {
        let fixture = DeliveryFixture(syncer: FailingDirectorySyncer(failingFragment: "/carol/"))
        let result = try fixture.deliver(bytes(Self.message), to: ["alice@example.org", "bob@example.org", "carol@example.net"])
        #expect(result.overall == .temporaryFailure(EnhancedStatusCode(4, 3, 0), "Mail system error"))
        for (user, domain) in [("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net")] {
            let maildir = fixture.maildir(user, domain: domain)
            #expect(files(in: maildir.newPath).isEmpty, "\(user) new/")
            #expect(files(in: maildir.tmpPath).isEmpty, "\(user) tmp/")
        }
    }

    @Test func hardLinkModeRollsBackToo() throws {
        let fixture = DeliveryFixture(copyMethod: .hardLink, syncer: FailingDirectorySyncer(failingFragment: "/bob/"))
        let result = try fixture.deliver(bytes(Self.message), to: ["team@example.org", "carol@example.net"])
        #expect(!result.overall.isDelivered)
        for (user, domain) in [("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net")] {
            let maildir = fixture.maildir(user, domain: domain)
            #expect(files(in: maildir.newPath).isEmpty && files(in: maildir.tmpPath).isEmpty, "\(user)")
        }
    }

    // How the copies of a several-Maildir delivery are written: held open as unnamed files (the default up to
    // the limit), through tmp/ above the limit, and as named drafts held open where O_TMPFILE is missing.
    struct CopyPath: CustomTestStringConvertible, Sendable {
        var label: String
        var unnamedCopyLimit: Int
        var allowsUnnamedFiles: Bool
        /// Whether any copy passes through tmp/ (the test file system, ext4, has O_TMPFILE).
        var usesTmp: Bool { !allowsUnnamedFiles || unnamedCopyLimit < 3 }
        var testDescription: String { label }

        func fixture(syncer: any DirectorySyncer = ImmediateDirectorySyncer()) -> DeliveryFixture {
            DeliveryFixture(syncer: syncer, unnamedCopyLimit: unnamedCopyLimit, allowsUnnamedFiles: allowsUnnamedFiles)
        }
    }

    static let copyPaths = [
        CopyPath(label: "unnamed copies", unnamedCopyLimit: DeliveryTransaction.defaultUnnamedCopyLimit, allowsUnnamedFiles: true),
        CopyPath(label: "above the limit: tmp/", unnamedCopyLimit: 2, allowsUnnamedFiles: true),
        CopyPath(label: "no O_TMPFILE: named drafts", unnamedCopyLimit: DeliveryTransaction.defaultUnnamedCopyLimit, allowsUnnamedFiles: false),
    ]

    static let everyone = [("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net")]
    static let oldTime: Int = 1_000_000_000

    /// Creates the Maildirs and sets each tmp/'s modification time far back: creating or removing a name in
    /// tmp/ sets it to now, so it tells whether a delivery went through tmp/ at all.
    static func backdateTmp(_ fixture: DeliveryFixture) throws {
        for (user, domain) in everyone {
            let maildir = fixture.maildir(user, domain: domain)
            try maildir.create()
            var times = [timespec(tv_sec: oldTime, tv_nsec: 0), timespec(tv_sec: oldTime, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, maildir.tmpPath, &times, 0) == 0)
        }
    }

    static func tmpWasTouched(_ maildir: Maildir) -> Bool {
        var info = stat()
        guard stat(maildir.tmpPath, &info) == 0 else { return true }
        return info.st_mtim.tv_sec != oldTime
    }

    @Test(arguments: copyPaths)
    func severalMaildirsEachGetTheirOwnCopy(_ path: CopyPath) throws {
        let fixture = path.fixture()
        try Self.backdateTmp(fixture)
        let body = bytes(String(repeating: "0123456789abcdef\r\n", count: 3000))
        let result = try fixture.deliver(body, to: ["alice@example.org", "bob@example.org", "carol@example.net"], chunk: 4093)
        #expect(result.overall.isDelivered)
        let expectedBody = bytes(String(repeating: "0123456789abcdef\n", count: 3000))
        var touched = 0
        for (user, domain) in Self.everyone {
            let maildir = fixture.maildir(user, domain: domain)
            let stored = fixture.storedMessages(maildir)
            try #require(stored.count == 1, "\(user)")
            let file = stored[0].bytes
            #expect(Array(file.suffix(expectedBody.count)) == expectedBody)
            let headers = String(decoding: file.prefix(file.count - expectedBody.count), as: UTF8.self)
            #expect(headers.hasPrefix("Return-Path: <sender@example.com>\nDelivered-To: \(user)@\(domain)\n"), "\(user)")
            #expect(headers.contains("for <\(user)@\(domain)>"), "\(user)")
            #expect(stored[0].name.hasSuffix(",S=\(file.count),W=\(file.count + Self.lineFeeds(file))"))
            #expect(files(in: maildir.tmpPath).isEmpty, "\(user) tmp/")
            if Self.tmpWasTouched(maildir) { touched += 1 }
        }
        // Unnamed copies never create a name in tmp/; the other paths create (and remove) one in each.
        #expect(touched == (path.usesTmp ? 3 : 0))
    }

    @Test(arguments: copyPaths)
    func aMaildirFailingMidwayKeepsNoCopyAnywhere(_ path: CopyPath) throws {
        let fixture = path.fixture()
        try Self.backdateTmp(fixture)
        // carol's new/ is a plain file: her copy fails after alice's draft and bob's copy are written.
        let carol = fixture.maildir("carol", domain: "example.net")
        try FileManager.default.removeItem(atPath: carol.newPath)
        _ = FileManager.default.createFile(atPath: carol.newPath, contents: Data("not a directory".utf8))
        let result = try fixture.deliver(bytes(Self.message), to: ["team@example.org", "carol@example.net"])
        #expect(result.overall.statusCode == EnhancedStatusCode(4, 3, 0))
        for (user, domain) in Self.everyone.prefix(2) {
            let maildir = fixture.maildir(user, domain: domain)
            #expect(files(in: maildir.newPath).isEmpty, "\(user) new/")
            #expect(files(in: maildir.tmpPath).isEmpty, "\(user) tmp/")
        }
        #expect(files(in: carol.tmpPath).isEmpty)
        #expect(!Self.tmpWasTouched(fixture.maildir("alice", domain: "example.org")) || path.usesTmp)
        #expect(!fixture.logs.records.contains { $0.event == "delivery.stored" })
    }

    @Test(arguments: copyPaths)
    func aFailedDirectorySyncUnlinksEveryPublishedCopy(_ path: CopyPath) throws {
        let fixture = path.fixture(syncer: FailingDirectorySyncer(failingFragment: "/carol/"))
        let result = try fixture.deliver(bytes(Self.message), to: ["alice@example.org", "bob@example.org", "carol@example.net"])
        #expect(result.overall == .temporaryFailure(EnhancedStatusCode(4, 3, 0), "Mail system error"))
        for (user, domain) in Self.everyone {
            let maildir = fixture.maildir(user, domain: domain)
            #expect(files(in: maildir.newPath).isEmpty, "\(user) new/")
            #expect(files(in: maildir.tmpPath).isEmpty, "\(user) tmp/")
        }
    }

    @Test(arguments: copyPaths)
    func aLoopLeavesNothingInAnyMaildir(_ path: CopyPath) throws {
        let fixture = path.fixture()
        let message = "Subject: x\r\n" + String(repeating: "Received: from a by b; date\r\n", count: 26) + "\r\nbody\r\n"
        let result = try fixture.deliver(bytes(message), to: ["team@example.org", "carol@example.net"], chunk: 100_000)
        #expect(result.overall.statusCode == EnhancedStatusCode(5, 4, 6))
        for (user, domain) in Self.everyone {
            let maildir = fixture.maildir(user, domain: domain)
            #expect(files(in: maildir.newPath).isEmpty && files(in: maildir.tmpPath).isEmpty, "\(user)")
        }
    }

    static let loopMessages: [(String, String)] = [
        ("deliveredTo", "Delivered-To: bob@example.org\r\nSubject: x\r\n\r\nbody\r\n"),
        ("foldedDeliveredTo", "Subject: x\r\nDelivered-To:\r\n <BOB@example.org>\r\n\r\nbody\r\n"),
        ("received", String(repeating: "Received: from a by b; date\r\n", count: 26) + "\r\nbody\r\n"),
    ]

    @Test(arguments: loopMessages)
    func loopsFailPermanentlyForEveryone(_ name: String, _ message: String) throws {
        for chunk in [1, 5, 1000] {
            let fixture = DeliveryFixture()
            let result = try fixture.deliver(bytes(message), to: ["team@example.org", "carol@example.net"], chunk: chunk)
            #expect(result.overall.statusCode == EnhancedStatusCode(5, 4, 6), "\(name) chunk \(chunk)")
            for (user, domain) in [("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net")] {
                let maildir = fixture.maildir(user, domain: domain)
                #expect(files(in: maildir.newPath).isEmpty && files(in: maildir.tmpPath).isEmpty)
            }
        }
    }

    @Test func appendReportsTheFailureAndCommitRepeatsIt() throws {
        let fixture = DeliveryFixture()
        let tx = try fixture.agent.beginTransaction(
            reversePath: nil, recipients: [fixture.address("bob@example.org")], trace: fixture.trace())
        #expect(throws: DeliveryError.self) { try tx.append(bytes("Delivered-To: bob@example.org\r\n\r\n")) }
        #expect(tx.currentFailure?.statusCode == EnhancedStatusCode(5, 4, 6))
        #expect(throws: DeliveryError.self) { try tx.append(bytes("more\r\n")) }
        #expect(tx.commit().overall.statusCode == EnhancedStatusCode(5, 4, 6))
        #expect(files(in: fixture.maildir("bob", domain: "example.org").tmpPath).isEmpty)
    }

    @Test func tooBigIsPermanent() throws {
        let fixture = DeliveryFixture(maximumMessageSize: 20)
        let result = try fixture.deliver(bytes(Self.message), to: ["alice@example.org"])
        #expect(result.overall.statusCode == EnhancedStatusCode(5, 3, 4))
        #expect(files(in: fixture.maildir("alice", domain: "example.org").tmpPath).isEmpty)
    }

    @Test func abortLeavesNothing() throws {
        let fixture = DeliveryFixture()
        let tx = try fixture.agent.beginTransaction(
            reversePath: nil, recipients: [fixture.address("alice@example.org")], trace: fixture.trace())
        try tx.append(bytes(Self.message))
        tx.abort()
        let maildir = fixture.maildir("alice", domain: "example.org")
        #expect(files(in: maildir.tmpPath).isEmpty && files(in: maildir.newPath).isEmpty)
    }

    @Test(arguments: [("nobody@example.org", "5.1.1"), ("alice@elsewhere.test", "5.7.1"), ("../x@example.org", "5.1.3")])
    func unresolvableRecipientsAreRefusedAtBegin(_ recipient: String, _ code: String) throws {
        let fixture = DeliveryFixture()
        #expect(throws: DeliveryError.self) {
            _ = try fixture.agent.beginTransaction(reversePath: nil, recipients: [fixture.address(recipient)], trace: fixture.trace())
        }
        do {
            _ = try fixture.agent.beginTransaction(reversePath: nil, recipients: [fixture.address(recipient)], trace: fixture.trace())
        } catch {
            #expect(error.statusCode.description == code)
        }
    }

    @Test func resolvedRecipientsWithoutMailboxesAreReportedSeparately() throws {
        let fixture = DeliveryFixture()
        let alice = fixture.address("alice@example.org")
        let tx = try fixture.agent.beginTransaction(
            reversePath: nil,
            recipients: [
                ResolvedRecipient(address: fixture.address("gone@example.org"), mailboxes: []),
                ResolvedRecipient(address: alice, mailboxes: fixture.agent.resolve(alice).mailboxes),
            ],
            trace: fixture.trace())
        try tx.append(bytes(Self.message))
        let result = tx.commit()
        #expect(result.overall.isDelivered)
        #expect(result.recipients[0].outcome.statusCode == EnhancedStatusCode(5, 1, 1))
        #expect(result.recipients[1].outcome.isDelivered)
        #expect(throws: DeliveryError.self) {
            _ = try fixture.agent.beginTransaction(
                reversePath: nil, recipients: [ResolvedRecipient(address: alice, mailboxes: [])], trace: fixture.trace())
        }
    }

    @Test(arguments: [(EDQUOT, "4.2.2"), (ENOSPC, "4.3.1"), (EIO, "4.3.0"), (EACCES, "4.3.0")])
    func storageErrorsMapToTemporaryCodes(_ code: Int32, _ expected: String) {
        let error = DeliveryError(storage: SystemError("write", errno: code))
        #expect(error.statusCode.description == expected)
        #expect(error.isTemporary)
    }
}
