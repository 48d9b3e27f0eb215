// SymbolicLinkCheckTests: a symbolic link anywhere below the mail root — the Maildir, its tmp/ new/ cur/,
// a +tag folder — never carries a delivery out, creates nothing outside, and never opens a Maildir for POP3.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct SymbolicLinkCheckTests {
    static let message = bytes("Subject: link\r\n\r\nhi\r\n")

    func allFiles(under path: String) -> [String] {
        (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
    }

    func isTemporaryFailure(_ result: DeliveryResult) -> Bool {
        if case .temporaryFailure = result.overall { return true }
        return false
    }

    @Test(arguments: ["new", "tmp", "cur"])
    func aLinkedSubdirectoryIsRefusedAndNothingIsWrittenThrough(sub: String) throws {
        let fixture = DeliveryFixture()
        let outside = try fixture.makeOutside()
        let bob = fixture.maildir("bob", domain: "example.org")
        try bob.create()
        try FileManager.default.removeItem(atPath: bob.path + "/" + sub)
        try FileManager.default.createSymbolicLink(atPath: bob.path + "/" + sub, withDestinationPath: outside)
        var result: DeliveryResult?
        do {
            result = try fixture.deliver(Self.message, to: ["bob@example.org"])
        } catch {
            #expect((error as? DeliveryError)?.isTemporary == true, "\(error)")
        }
        if let result { #expect(isTemporaryFailure(result), "\(result.overall)") }
        #expect(allFiles(under: outside).isEmpty)
    }

    @Test func aLinkedMaildirGetsNoDirectoriesCreatedOutside() throws {
        let fixture = DeliveryFixture()
        let outside = try fixture.makeOutside()
        try FileManager.default.createDirectory(atPath: fixture.root + "/mail/example.org", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: fixture.maildir("bob", domain: "example.org").path, withDestinationPath: outside)
        #expect(throws: DeliveryError.self) { try fixture.deliver(Self.message, to: ["bob@example.org"]) }
        #expect(allFiles(under: outside).isEmpty, "tmp/ new/ cur/ must not be created before the check")
    }

    @Test func aLinkInsideTheRootIsRefusedToo() throws {
        // kate -> alice stays inside the root, but would make kate's mail alice's.
        let fixture = DeliveryFixture(directory: DeliveryDirectory(
            localDomains: ["example.org"], users: ["alice@example.org", "kate@example.org"]))
        let alice = fixture.maildir("alice", domain: "example.org")
        try alice.create()
        try FileManager.default.createSymbolicLink(atPath: fixture.maildir("kate", domain: "example.org").path, withDestinationPath: alice.path)
        #expect(throws: DeliveryError.self) { try fixture.deliver(Self.message, to: ["kate@example.org"]) }
        #expect(files(in: alice.newPath).isEmpty)
    }

    @Test func oneLinkedMailboxFailsTheWholeTransaction() throws {
        let fixture = DeliveryFixture()
        let outside = try fixture.makeOutside(withMaildir: true)
        let bob = fixture.maildir("bob", domain: "example.org")
        try bob.create()
        try FileManager.default.removeItem(atPath: bob.newPath)
        try FileManager.default.createSymbolicLink(atPath: bob.newPath, withDestinationPath: outside + "/new")
        let result = try fixture.deliver(Self.message, to: ["alice@example.org", "bob@example.org"])
        #expect(isTemporaryFailure(result), "\(result.overall)")
        #expect(files(in: fixture.maildir("alice", domain: "example.org").newPath).isEmpty)
        #expect(allFiles(under: outside) == ["cur", "new", "tmp"])
    }

    @Test func aLinkedFolderIsPassedOverForTheInbox() throws {
        let fixture = DeliveryFixture(deliversSubaddressToFolders: true)
        let outside = try fixture.makeOutside(withMaildir: true)
        let alice = fixture.maildir("alice", domain: "example.org")
        try alice.create()
        try FileManager.default.createSymbolicLink(atPath: alice.path + "/.lists", withDestinationPath: outside)
        let result = try fixture.deliver(Self.message, to: ["alice+lists@example.org"])
        #expect(result.overall.isDelivered)
        #expect(files(in: alice.newPath).count == 1)
        #expect(allFiles(under: outside) == ["cur", "new", "tmp"])
    }

    // MARK: - The one path function for reading a Maildir (POP3 login)

    @Test func accountMaildirIsRefusedWhenItIsALink() throws {
        let fixture = DeliveryFixture(directory: DeliveryDirectory(
            localDomains: ["example.org"], users: ["alice@example.org", "kate@example.org"]))
        let alice = fixture.maildir("alice", domain: "example.org")
        try alice.create()
        try FileManager.default.createSymbolicLink(atPath: fixture.maildir("kate", domain: "example.org").path, withDestinationPath: alice.path)
        #expect(fixture.agent.maildir(forAccount: fixture.address("kate@example.org")) == nil)
        #expect(fixture.agent.maildir(forAccount: fixture.address("alice@example.org")) == alice)
        #expect(fixture.agent.maildir(forAccount: fixture.address("ALICE@Example.ORG")) == alice)
    }

    @Test func accountMaildirIsRefusedWhenItsDomainLeadsOutside() throws {
        let fixture = DeliveryFixture()
        let outside = try fixture.makeOutside()
        try FileManager.default.createDirectory(atPath: outside + "/carol/new", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: fixture.root + "/mail", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: fixture.root + "/mail/example.net", withDestinationPath: outside)
        #expect(fixture.agent.maildir(forAccount: fixture.address("carol@example.net")) == nil)
    }

    @Test(arguments: ["../alice@example.org", "a/b@example.org", ".hidden@example.org", "alice@..", "alice@a/b"])
    func accountMaildirKeepsTheLexicalGuard(account: String) throws {
        let fixture = DeliveryFixture()
        let address = try #require(MailAddress(account))
        #expect(fixture.agent.maildir(forAccount: address) == nil)
    }

    @Test func accountMaildirNotCreatedYetIsFine() throws {
        let fixture = DeliveryFixture()
        let maildir = fixture.agent.maildir(forAccount: fixture.address("carol@example.net"))
        #expect(maildir == fixture.maildir("carol", domain: "example.net"))
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/mail/example.net"), "looking creates nothing")
    }
}
