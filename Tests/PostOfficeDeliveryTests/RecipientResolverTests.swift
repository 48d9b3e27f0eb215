// RecipientResolverTests: users, case, aliases (chains, cycles, depth), catch-alls, subaddressing with and
// without folders, relay refusal — each as a table of address → expected mailboxes or failure.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct RecipientResolverTests {
    static let root = "/srv/mail"

    static let directory = DeliveryDirectory(
        localDomains: ["example.org", "Example.NET", "catch.test"],
        users: ["alice@example.org", "Bob@Example.org", "carol@example.net", "dave@catch.test", "x+y@example.org"],
        aliases: [
            "team@example.org": ["alice@example.org", "bob@example.org"],
            "chain1@example.org": ["chain2@example.org"],
            "chain2@example.org": ["chain3@example.net"],
            "chain3@example.net": ["carol@example.net"],
            "loopa@example.org": ["loopb@example.org"],
            "loopb@example.org": ["loopa@example.org"],
            "self@example.org": ["self@example.org"],
            "alice-and-me@example.org": ["alice-and-me@example.org", "alice@example.org"],
            "outside@example.org": ["someone@elsewhere.test"],
            "mixed@example.org": ["someone@elsewhere.test", "carol@example.net"],
            "dupes@example.org": ["alice@example.org", "team@example.org", "ALICE@example.org"],
            "list@example.org": ["bob@example.org"],
            "ghost@example.org": ["nobody@example.org"],
            "tagself@example.org": ["tagself+x@example.org"],
            "tagboth@example.org": ["tagboth+x@example.org", "bob@example.org"],
        ],
        catchAll: ["catch.test": "dave@catch.test"])

    static let resolver = RecipientResolver(directory: directory, mailRoot: root)

    static let cases: [(String, [String]?, RecipientResolution?)] = [
        ("alice@example.org", ["alice@example.org"], nil),
        ("ALICE@EXAMPLE.ORG", ["alice@example.org"], nil),
        ("bob@example.org", ["bob@example.org"], nil),
        ("carol@EXAMPLE.net", ["carol@example.net"], nil),
        ("team@example.org", ["alice@example.org", "bob@example.org"], nil),
        ("chain1@example.org", ["carol@example.net"], nil),
        ("alice+news@example.org", ["alice@example.org"], nil),
        ("alice+@example.org", ["alice@example.org"], nil),
        ("x+y@example.org", ["x+y@example.org"], nil),
        ("team+x@example.org", ["alice@example.org", "bob@example.org"], nil),
        ("anything@catch.test", ["dave@catch.test"], nil),
        ("dave+tag@catch.test", ["dave@catch.test"], nil),
        ("alice-and-me@example.org", ["alice@example.org"], nil),
        ("mixed@example.org", ["carol@example.net"], nil),
        ("dupes@example.org", ["alice@example.org", "bob@example.org"], nil),
        ("nobody@example.org", nil, .unknownUser),
        ("+alice@example.org", nil, .unknownUser),
        ("ghost@example.org", nil, .unknownUser),
        ("outside@example.org", nil, .unknownUser),
        ("alice@elsewhere.test", nil, .relayDenied),
        ("alice@example.org.evil", nil, .relayDenied),
        ("loopa@example.org", nil, .aliasLoop),
        ("self@example.org", nil, .aliasLoop),
        ("tagself@example.org", nil, .aliasLoop),
        ("tagboth@example.org", ["bob@example.org"], nil),
        ("../alice@example.org", nil, .invalidAddress),
        ("alice@../example.org", nil, .invalidAddress),
    ]

    @Test(arguments: cases)
    func resolves(_ input: String, _ expectedUsers: [String]?, _ expectedFailure: RecipientResolution?) throws {
        let address = try #require(MailAddress(input))
        let result = Self.resolver.resolve(address)
        if let expectedUsers {
            let mailboxes = result.mailboxes
            #expect(mailboxes.map { $0.user.description } == expectedUsers)
            for mailbox in mailboxes {
                #expect(mailbox.maildir.path == "\(Self.root)/\(mailbox.user.domain)/\(mailbox.user.localPart)")
                #expect(mailbox.folder == nil)
            }
        } else {
            #expect(result == expectedFailure)
        }
    }

    @Test func failureCodes() {
        #expect(RecipientResolution.unknownUser.statusCode.description == "5.1.1")
        #expect(RecipientResolution.relayDenied.statusCode.description == "5.7.1")
        #expect(RecipientResolution.invalidAddress.statusCode.description == "5.1.3")
        #expect(RecipientResolution.aliasLoop.statusCode.description == "5.4.6")
    }

    @Test func subaddressingCanBeDisabledOrChanged() throws {
        var directory = Self.directory
        directory.subaddressDelimiter = nil
        let off = RecipientResolver(directory: directory, mailRoot: Self.root)
        #expect(off.resolve(try #require(MailAddress("alice+news@example.org"))) == .unknownUser)
        directory.subaddressDelimiter = "-"
        let dash = RecipientResolver(directory: directory, mailRoot: Self.root)
        #expect(dash.resolve(try #require(MailAddress("alice-news@example.org"))).mailboxes.count == 1)
        #expect(dash.resolve(try #require(MailAddress("alice+news@example.org"))) == .unknownUser)
    }

    @Test func deepChainsStopAtTheDepthLimit() throws {
        var directory = DeliveryDirectory(localDomains: ["d.test"], users: ["end@d.test"])
        for level in 0..<20 { directory.addAlias("a\(level)@d.test", targets: ["a\(level + 1)@d.test"]) }
        directory.addAlias("a20@d.test", targets: ["end@d.test"])
        let shallow = RecipientResolver(directory: directory, mailRoot: Self.root, maximumAliasDepth: 25)
        #expect(shallow.resolve(try #require(MailAddress("a0@d.test"))).mailboxes.map(\.user.description) == ["end@d.test"])
        let strict = RecipientResolver(directory: directory, mailRoot: Self.root, maximumAliasDepth: 10)
        #expect(strict.resolve(try #require(MailAddress("a0@d.test"))) == .aliasLoop)
        #expect(strict.resolve(try #require(MailAddress("a15@d.test"))).mailboxes.count == 1)
    }

    @Test func fanOutIsBounded() throws {
        var directory = DeliveryDirectory(localDomains: ["d.test"])
        var targets: [String] = []
        for index in 0..<50 {
            directory.addUser("u\(index)@d.test")
            targets.append("u\(index)@d.test")
        }
        directory.addAlias("all@d.test", targets: targets)
        let resolver = RecipientResolver(directory: directory, mailRoot: Self.root, maximumMailboxes: 10)
        #expect(resolver.resolve(try #require(MailAddress("all@d.test"))).mailboxes.count == 10)
    }

    @Test func subaddressSelectsAnExistingFolderWhenEnabled() throws {
        let root = makeTemporaryDirectory("folders")
        let inbox = Maildir(path: root + "/example.org/alice")
        try inbox.create()
        try #require(inbox.folder(named: "Lists")).create()
        let resolver = RecipientResolver(directory: Self.directory, mailRoot: root, deliversSubaddressToFolders: true)
        let withFolder = resolver.resolve(try #require(MailAddress("alice+Lists@example.org"))).mailboxes
        #expect(withFolder.first?.folder?.path == root + "/example.org/alice/.Lists")
        #expect(withFolder.first?.destination.path == root + "/example.org/alice/.Lists")
        let lowerCase = resolver.resolve(try #require(MailAddress("alice+lists@example.org"))).mailboxes
        #expect(lowerCase.first?.folder == nil, "folder names are case-sensitive; only the exact or lower-case name is tried")
        let missing = resolver.resolve(try #require(MailAddress("alice+nofolder@example.org"))).mailboxes
        #expect(missing.first?.folder == nil)
        #expect(missing.first?.destination.path == root + "/example.org/alice")
        let disabled = RecipientResolver(directory: Self.directory, mailRoot: root, deliversSubaddressToFolders: false)
        #expect(disabled.resolve(try #require(MailAddress("alice+Lists@example.org"))).mailboxes.first?.folder == nil)
        // An alias does not pass its tag on.
        try Maildir(path: root + "/example.org/bob").create()
        try #require(Maildir(path: root + "/example.org/bob").folder(named: "x")).create()
        #expect(resolver.resolve(try #require(MailAddress("list+x@example.org"))).mailboxes.first?.folder == nil)
        #expect(resolver.resolve(try #require(MailAddress("bob+x@example.org"))).mailboxes.first?.folder != nil)
    }

    @Test func layoutTemplatesPlaceTheMaildir() throws {
        let address = try #require(MailAddress("Alice@Example.org"))
        let cases: [(String, String)] = [
            ("%d/%n", "/srv/mail/example.org/alice"),
            ("%n/Maildir", "/srv/mail/alice/Maildir"),
            ("%u", "/srv/mail/alice@example.org"),
            ("users/%d/%n/mail%%box", "/srv/mail/users/example.org/alice/mail%box"),
        ]
        for (template, expected) in cases {
            let layout = try #require(MailboxLayout(template: template))
            let resolver = RecipientResolver(directory: Self.directory, mailRoot: "/srv/mail/", layout: layout)
            #expect(resolver.resolve(address).mailboxes.first?.maildir.path == expected, "\(template)")
        }
    }

    @Test(arguments: ["", "/abs/%n", "%d/../%n", "./%n", "%x/%n", "plain", "%d//%n", "%n/", "%"])
    func badLayoutTemplatesAreRefused(_ template: String) {
        #expect(MailboxLayout(template: template) == nil)
    }

    @Test func directoryNormalizesCase() {
        var directory = DeliveryDirectory()
        directory.addUser("Zed@Mixed.Case")
        #expect(directory.isLocal(domain: "MIXED.case"))
        #expect(directory.users.contains("zed@mixed.case"))
        directory.setCatchAll(domain: "Mixed.Case", target: "Zed@Mixed.Case")
        #expect(directory.catchAll["mixed.case"] == "zed@mixed.case")
        directory.setCatchAll(domain: "mixed.case", target: nil)
        #expect(directory.catchAll.isEmpty)
    }

    @Test func agentReloadsItsDirectory() throws {
        let fixture = DeliveryFixture()
        let newcomer = try #require(MailAddress("newcomer@example.org"))
        #expect(fixture.agent.resolve(newcomer) == .unknownUser)
        var directory = fixture.agent.directory
        directory.addUser("newcomer@example.org")
        fixture.agent.updateDirectory(directory)
        #expect(fixture.agent.resolve(newcomer).mailboxes.count == 1)
    }
}
