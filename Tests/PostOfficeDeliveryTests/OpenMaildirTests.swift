// OpenMaildirTests: Maildirs kept open between deliveries (MaildirHandleCache) are used again only while their
// new/ path still leads to the directory held open; a moved, replaced or linked Maildir is walked again, and a
// failed delivery forgets what it used.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct OpenMaildirTests {
    static let message = bytes("Subject: kept\r\n\r\nhi\r\n")

    func isDelivered(_ result: DeliveryResult) -> Bool { result.overall.isDelivered }

    @Test func aSecondDeliveryUsesTheMaildirKeptOpen() throws {
        let fixture = DeliveryFixture()
        let bob = fixture.maildir("bob", domain: "example.org")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        let kept = try #require(fixture.agent.openMaildirs?.handle(for: bob))
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org", "alice@example.org"])))
        #expect(fixture.agent.openMaildirs?.handle(for: bob) === kept)
        #expect(fixture.agent.openMaildirs?.count == 2)
        #expect(files(in: bob.newPath).count == 2)
    }

    @Test func aMaildirMovedAsideGetsTheNextMessageAtItsPath() throws {
        let fixture = DeliveryFixture()
        let bob = fixture.maildir("bob", domain: "example.org")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        try FileManager.default.moveItem(atPath: bob.path, toPath: bob.path + ".old")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        #expect(files(in: bob.path + ".old/new").count == 1, "the moved Maildir got a second message")
        #expect(files(in: bob.newPath).count == 1, "the Maildir at the path was not created and delivered to")
    }

    @Test func newSwappedForALinkAfterADeliveryIsRefused() throws {
        let fixture = DeliveryFixture()
        let outside = try fixture.makeOutside(withMaildir: true)
        let bob = fixture.maildir("bob", domain: "example.org")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        try swapForLink(bob.newPath, to: outside + "/new")
        // Refused when the transaction opens bob's Maildir (the first recipient's draft is made then).
        #expect(throws: DeliveryError.self) { try fixture.deliver(Self.message, to: ["bob@example.org"]) }
        #expect(files(in: outside + "/new").isEmpty)
        #expect(files(in: bob.newPath + ".real").count == 1)
    }

    @Test func aMaildirReplacedByALinkToAnotherIsRefused() throws {
        let fixture = DeliveryFixture()
        let outside = try fixture.makeOutside(withMaildir: true)
        let bob = fixture.maildir("bob", domain: "example.org")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        try swapForLink(bob.path, to: outside)
        #expect(throws: DeliveryError.self) { try fixture.deliver(Self.message, to: ["bob@example.org"]) }
        #expect(files(in: outside + "/new").isEmpty)
        #expect(fixture.agent.openMaildirs?.handle(for: bob) == nil)
    }

    /// What the stat cannot tell apart from the Maildir itself: a link above new/ that leads back to the very
    /// directory held open. Delivery goes on into that directory, the one the walk checked.
    @Test func aLinkBackToTheSameDirectoryKeepsDeliveringIntoIt() throws {
        let fixture = DeliveryFixture()
        let bob = fixture.maildir("bob", domain: "example.org")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        try swapForLink(bob.path, to: bob.path + ".real")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        #expect(files(in: bob.path + ".real/new").count == 2)
    }

    @Test func aFailedDeliveryForgetsTheMaildirAndTheRetryWalksAgain() throws {
        // Named drafts, so that tmp/ is used: removed under the kept handle, the next draft cannot be created.
        let fixture = DeliveryFixture(allowsUnnamedFiles: false)
        let bob = fixture.maildir("bob", domain: "example.org")
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        try FileManager.default.removeItem(atPath: bob.tmpPath)
        try FileManager.default.createDirectory(atPath: bob.tmpPath, withIntermediateDirectories: false)
        #expect(throws: DeliveryError.self) { try fixture.deliver(Self.message, to: ["bob@example.org"]) }
        #expect(fixture.agent.openMaildirs?.count == 0)
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["bob@example.org"])))
        #expect(files(in: bob.newPath).count == 2)
        #expect(files(in: bob.tmpPath).isEmpty)
    }

    @Test func theCacheHoldsAtMostItsLimit() throws {
        let fixture = DeliveryFixture(openMaildirLimit: 2)
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["alice@example.org", "bob@example.org", "carol@example.net"])))
        #expect(fixture.agent.openMaildirs?.count == 2)
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["carol@example.net"])))
        #expect(fixture.agent.openMaildirs?.count == 2)
    }

    @Test func aLimitOfZeroKeepsNothingOpen() throws {
        let fixture = DeliveryFixture(openMaildirLimit: 0)
        #expect(fixture.agent.openMaildirs == nil)
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["alice@example.org", "bob@example.org"])))
        #expect(isDelivered(try fixture.deliver(Self.message, to: ["alice@example.org"])))
        #expect(files(in: fixture.maildir("alice", domain: "example.org").newPath).count == 2)
    }
}
