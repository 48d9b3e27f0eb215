// PostmasterResolutionTests: `<postmaster>` and postmaster@ every local domain are always accepted
// (RFC 5321 §4.5.1) — to postmaster_address, else the first domain's postmaster — unless the directory
// names its own postmaster (issue 19, D5).

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct PostmasterResolutionTests {
    static let root = "/srv/mail"

    static let directory = DeliveryDirectory(
        localDomains: ["a.test", "b.test", "c.test"],
        users: ["alice@a.test", "root@b.test", "postmaster@c.test", "carol@c.test"],
        aliases: ["postmaster@b.test": ["root@b.test"]],
        catchAll: ["a.test": "alice@a.test"])

    static func resolver(postmaster: String?, directory: DeliveryDirectory = directory) -> RecipientResolver {
        RecipientResolver(
            directory: directory, mailRoot: root, hostname: "MX.Example.TEST",
            postmasterAddress: postmaster.flatMap(MailAddress.init))
    }

    static func users(_ resolution: RecipientResolution) -> [String] {
        resolution.mailboxes.map(\.user.description)
    }

    /// (recipient, postmaster_address, expected users; nil = the expected failure)
    static let cases: [(String, String?, [String]?, RecipientResolution?)] = [
        // The bare <postmaster>, as the SMTP parser qualifies it with our host name, any case.
        ("postmaster@mx.example.test", "alice@a.test", ["alice@a.test"], nil),
        ("PostMaster@MX.EXAMPLE.TEST", "alice@a.test", ["alice@a.test"], nil),
        // A local domain with no postmaster of its own: the configured address, not the catch-all.
        ("postmaster@a.test", "carol@c.test", ["carol@c.test"], nil),
        ("POSTMASTER@A.TEST", "carol@c.test", ["carol@c.test"], nil),
        // An alias-file entry or a user named postmaster overrides the configured address.
        ("postmaster@b.test", "alice@a.test", ["root@b.test"], nil),
        ("postmaster@c.test", "alice@a.test", ["postmaster@c.test"], nil),
        // Not configured: the first local domain (byte order) with a postmaster: b.test's alias.
        ("postmaster@mx.example.test", nil, ["root@b.test"], nil),
        ("postmaster@a.test", nil, ["root@b.test"], nil),
        // A configured address that does not resolve falls back the same way.
        ("postmaster@a.test", "nobody@elsewhere.test", ["root@b.test"], nil),
        // The postmaster address itself is resolved like any recipient (through aliases).
        ("postmaster@mx.example.test", "postmaster@b.test", ["root@b.test"], nil),
        // Other domains are still not ours, postmaster or not; tags are not the postmaster.
        ("postmaster@elsewhere.test", "alice@a.test", nil, .relayDenied),
        ("postmaster@[192.0.2.1]", "alice@a.test", nil, .relayDenied),
        ("postmaster+x@mx.example.test", "alice@a.test", nil, .relayDenied),
    ]

    @Test(arguments: cases)
    func postmasterIsAlwaysAccepted(recipient: String, postmaster: String?, expected: [String]?, failure: RecipientResolution?) throws {
        let address = try #require(MailAddress(recipient))
        let resolution = Self.resolver(postmaster: postmaster).resolve(address)
        if let expected {
            #expect(Self.users(resolution) == expected, "\(recipient) with postmaster_address \(postmaster ?? "unset")")
        } else {
            #expect(resolution == failure, "\(recipient)")
        }
    }

    @Test func withNoPostmasterAnywhereTheNormalLookupDecides() throws {
        let directory = DeliveryDirectory(
            localDomains: ["a.test", "d.test"], users: ["alice@a.test", "dan@d.test"], catchAll: ["a.test": "alice@a.test"])
        let resolver = Self.resolver(postmaster: nil, directory: directory)
        #expect(Self.users(resolver.resolve(try #require(MailAddress("postmaster@a.test")))) == ["alice@a.test"], "catch-all")
        #expect(resolver.resolve(try #require(MailAddress("postmaster@d.test"))) == .unknownUser)
        #expect(resolver.resolve(try #require(MailAddress("postmaster@mx.example.test"))) == .unknownUser)
    }

    @Test func aPostmasterAddressNamingPostmasterDoesNotLoop() throws {
        let directory = DeliveryDirectory(localDomains: ["a.test"], users: ["alice@a.test"])
        let resolver = Self.resolver(postmaster: "postmaster@a.test", directory: directory)
        #expect(resolver.resolve(try #require(MailAddress("postmaster@a.test"))) == .unknownUser)
    }

    @Test func theAgentTakesThePostmasterFromItsConfiguration() throws {
        let agent = LocalDeliveryAgent(
            configuration: DeliveryConfiguration(
                mailRoot: Self.root, hostname: "vm", postmasterAddress: MailAddress("alice@a.test")),
            directory: Self.directory)
        #expect(Self.users(agent.resolve(try #require(MailAddress("Postmaster@vm")))) == ["alice@a.test"])
        #expect(Self.users(agent.resolve(try #require(MailAddress("postmaster@a.test")))) == ["alice@a.test"])
    }
}
