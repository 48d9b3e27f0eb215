// CanonicalRecipientTests: recipient resolution follows MailAddress's comparison rule — ASCII case folds,
// U+212A KELVIN SIGN and other Unicode look-alikes reach neither kate nor her aliases (issue 19).

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct CanonicalRecipientTests {
    static let directory = DeliveryDirectory(
        localDomains: ["example.test"],
        users: ["kate@example.test", "sam@example.test", "ivan@example.test"],
        aliases: ["kitchen@example.test": ["kate@example.test"]])

    @Test(arguments: ["Kate@example.test", "KATE@EXAMPLE.TEST", "kate@Example.Test", "KITCHEN@example.test"])
    func asciiCaseReachesKate(_ text: String) {
        let fixture = DeliveryFixture(directory: Self.directory)
        let boxes = fixture.agent.resolve(fixture.address(text)).mailboxes
        #expect(boxes.map(\.user.description) == ["kate@example.test"])
    }

    @Test(arguments: [
        "\u{212A}ate@example.test", "\u{212A}itchen@example.test", "\u{17F}am@example.test", "\u{130}van@example.test",
        "kate@example.tes\u{1E6B}",
    ])
    func unicodeLookalikesReachNobody(_ text: String) {
        let fixture = DeliveryFixture(directory: Self.directory)
        #expect(fixture.agent.resolve(fixture.address(text)).mailboxes.isEmpty)
    }

    @Test func deliveryToKelvinAteDoesNotReachKate() throws {
        let fixture = DeliveryFixture(directory: Self.directory)
        let kate = fixture.maildir("kate", domain: "example.test")
        let error = try #require(throws: DeliveryError.self) {
            _ = try fixture.deliver(bytes("Subject: k\r\n\r\nhi\r\n"), to: ["\u{212A}ate@example.test"])
        }
        #expect(!error.isTemporary)
        #expect(files(in: kate.newPath).isEmpty)
        // Nothing at all was written under the mail root for the look-alike.
        let written = FileManager.default.enumerator(atPath: fixture.root + "/mail")?.allObjects ?? []
        #expect(written.isEmpty, "\(written)")
    }

    @Test func deliveredToLoopDetectionUsesTheSameRule() throws {
        let fixture = DeliveryFixture(directory: Self.directory)
        let kate = fixture.maildir("kate", domain: "example.test")
        // A Kelvin-sign Delivered-To names another mailbox: no loop.
        let other = try fixture.deliver(bytes("Delivered-To: \u{212A}ate@example.test\r\n\r\nhi\r\n"), to: ["kate@example.test"])
        #expect(other.overall.isDelivered)
        // ASCII case still folds: a loop.
        let loop = try fixture.deliver(bytes("Delivered-To: KATE@example.test\r\n\r\nhi\r\n"), to: ["kate@example.test"])
        #expect(!loop.overall.isDelivered)
        #expect(files(in: kate.newPath).count == 1)
    }
}
