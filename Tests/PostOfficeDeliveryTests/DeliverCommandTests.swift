// DeliverCommandTests: `postoffice deliver` end to end on a file as standard input — LF and CRLF input give
// the same stored bytes, and every failure gives its sysexits code with nothing left half-written.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct DeliverCommandTests {
    /// Runs the command with `input` as standard input; returns the exit code and what it wrote on stderr.
    static func run(_ arguments: [String], input: [UInt8], fixture: DeliveryFixture) -> (Int32, String) {
        let inputPath = fixture.root + "/stdin-\(UUID().uuidString)"
        let errorPath = fixture.root + "/stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: inputPath, contents: Data(input))
        let inputDescriptor = open(inputPath, O_RDONLY)
        let errorDescriptor = open(errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer {
            close(inputDescriptor)
            close(errorDescriptor)
        }
        let code = DeliverCommand.run(
            arguments: arguments, standardInput: inputDescriptor, agent: fixture.agent, standardError: errorDescriptor)
        return (code, String(decoding: contents(of: errorPath), as: UTF8.self))
    }

    static func allMaildirsEmpty(_ fixture: DeliveryFixture) -> Bool {
        [("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net")].allSatisfy { user, domain in
            let maildir = fixture.maildir(user, domain: domain)
            return files(in: maildir.newPath).isEmpty && files(in: maildir.tmpPath).isEmpty
        }
    }

    @Test func lfAndCrlfInputStoreTheSameBytes() throws {
        let lf = bytes("From: a@example.com\nSubject: hi\n\nbody\nmore\n")
        let crlf = bytes("From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\nmore\r\n")
        var stored: [[(name: String, bytes: [UInt8])]] = []
        for input in [lf, crlf] {
            let fixture = DeliveryFixture()
            let (code, errors) = Self.run(["-f", "a@example.com", "alice@example.org"], input: input, fixture: fixture)
            #expect(code == 0)
            #expect(errors.isEmpty)
            stored.append(fixture.storedMessages(fixture.maildir("alice", domain: "example.org")))
        }
        try #require(stored[0].count == 1 && stored[1].count == 1)
        #expect(stored[0][0].bytes == stored[1][0].bytes)
        #expect(stored[0][0].name == stored[1][0].name)
        let text = String(decoding: stored[0][0].bytes, as: UTF8.self)
        #expect(text.hasPrefix("Return-Path: <a@example.com>\nDelivered-To: alice@example.org\nReceived: by mx.example.org (PostOffice) with local id "))
        #expect(text.hasSuffix("\nFrom: a@example.com\nSubject: hi\n\nbody\nmore\n"))
        #expect(stored[0][0].name.hasSuffix(",W=\(stored[0][0].bytes.count + stored[0][0].bytes.filter { $0 == 0x0A }.count)"))
    }

    @Test func severalRecipientsAndNullSender() throws {
        let fixture = DeliveryFixture()
        let (code, _) = Self.run(["-f", "<>", "-d", "bob@example.org", "--", "carol@example.net"], input: bytes("Subject: x\n\nhi\n"), fixture: fixture)
        #expect(code == 0)
        let bob = fixture.storedMessages(fixture.maildir("bob", domain: "example.org"))
        #expect(bob.count == 1)
        let bobText = String(decoding: bob.first?.bytes ?? [], as: UTF8.self)
        #expect(bobText.hasPrefix("Return-Path: <>\n"))
        #expect(fixture.storedMessages(fixture.maildir("carol", domain: "example.net")).count == 1)
    }

    static let failures: [(String, [String], String, Int32, String)] = [
        ("nul", ["alice@example.org"], "Subject: x\n\nbad\u{0}byte\n", 65, "5.6.0 Message contains a NUL byte at offset 15"),
        ("empty", ["alice@example.org"], "", 65, "5.6.0 Empty message"),
        ("unknown", ["alice@example.org", "nobody@example.org"], "Subject: x\n\nhi\n", 67, "5.1.1"),
        ("relay", ["someone@elsewhere.test"], "Subject: x\n\nhi\n", 67, "5.7.1"),
        ("invalid", ["../../etc@example.org"], "Subject: x\n\nhi\n", 67, "5.1.3"),
        ("loop", ["team@example.org"], "Delivered-To: bob@example.org\n\nhi\n", 65, "5.4.6"),
        ("noRecipient", [], "Subject: x\n\nhi\n", 64, "no recipient"),
        ("badOption", ["-x", "alice@example.org"], "Subject: x\n\nhi\n", 64, "unknown option -x"),
        ("missingValue", ["alice@example.org", "-f"], "Subject: x\n\nhi\n", 64, "-f needs a value"),
        ("notAnAddress", ["alice"], "Subject: x\n\nhi\n", 64, "not an address"),
    ]

    @Test(arguments: failures)
    func failuresGiveSysexitsAndStoreNothing(_ name: String, _ arguments: [String], _ input: String, _ expected: Int32, _ message: String) {
        let fixture = DeliveryFixture()
        let (code, errors) = Self.run(arguments, input: bytes(input), fixture: fixture)
        #expect(code == expected, "\(name)")
        #expect(errors.hasPrefix("postoffice deliver: "), "\(name)")
        #expect(errors.contains(message), "\(name): \(errors)")
        #expect(Self.allMaildirsEmpty(fixture), "\(name)")
    }

    @Test func nulLateInALargeMessageLeavesNothing() {
        let fixture = DeliveryFixture()
        var input = bytes("Subject: big\n\n" + String(repeating: "x", count: 200_000))
        input.append(0)
        let (code, _) = Self.run(["alice@example.org", "bob@example.org"], input: input, fixture: fixture)
        #expect(code == 65)
        #expect(Self.allMaildirsEmpty(fixture))
    }

    @Test func storageFailureIsTemporary() {
        let fixture = DeliveryFixture(syncer: FailingDirectorySyncer(failingFragment: "/alice/"))
        let (code, errors) = Self.run(["alice@example.org"], input: bytes("Subject: x\n\nhi\n"), fixture: fixture)
        #expect(code == 75)
        #expect(errors.contains("4.3.0"))
        #expect(Self.allMaildirsEmpty(fixture))
    }

    @Test(arguments: [("2.0.0", Int32(0)), ("4.2.2", 75), ("5.1.1", 67), ("5.7.1", 67), ("5.4.6", 65), ("5.3.4", 65)])
    func exitCodes(_ code: String, _ expected: Int32) throws {
        #expect(DeliverCommand.exitCode(for: try #require(EnhancedStatusCode(code))) == expected)
    }
}
