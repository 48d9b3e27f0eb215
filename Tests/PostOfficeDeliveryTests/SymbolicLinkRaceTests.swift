// SymbolicLinkRaceTests: a symbolic link swapped in for new/ (or the whole Maildir) after the transaction
// checked and opened the Maildir, before commit, cannot carry the message outside the mail root (issue 19).

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct SymbolicLinkRaceTests {
    static let message = bytes("Subject: race\r\n\r\nhi\r\n")

    func regularFiles(under path: String) -> [String] {
        (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path + "/" + $0, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    @Test(arguments: [DeliveryConfiguration.CopyMethod.copyBody, .hardLink])
    func newSwappedForALinkBetweenCheckAndCommitStaysInside(copyMethod: DeliveryConfiguration.CopyMethod) throws {
        let fixture = DeliveryFixture(copyMethod: copyMethod)
        let outside = try fixture.makeOutside(withMaildir: true)
        let bob = fixture.maildir("bob", domain: "example.org")
        // bob's Maildir is checked and opened here, when the transaction begins.
        let tx = try fixture.agent.beginTransaction(
            reversePath: fixture.address("sender@example.com"),
            recipients: [fixture.address("bob@example.org"), fixture.address("alice@example.org")], trace: fixture.trace())
        try tx.append(Self.message)
        try swapForLink(bob.newPath, to: outside + "/new")
        let result = tx.commit()
        #expect(regularFiles(under: outside).isEmpty, "the publication followed the link")
        switch result.overall {
        case .delivered:
            #expect(files(in: bob.newPath + ".real").count == 1, "the message is in the new/ that was checked")
        case .temporaryFailure:
            break
        default:
            Issue.record("unexpected outcome \(result.overall)")
        }
    }

    @Test func theWholeMaildirSwappedForALinkStaysInside() throws {
        let fixture = DeliveryFixture()
        let outside = try fixture.makeOutside(withMaildir: true)
        let bob = fixture.maildir("bob", domain: "example.org")
        let tx = try fixture.agent.beginTransaction(
            reversePath: nil, recipients: [fixture.address("bob@example.org")], trace: fixture.trace())
        try tx.append(Self.message)
        try swapForLink(bob.path, to: outside)
        let result = tx.commit()
        #expect(result.overall.isDelivered)
        #expect(regularFiles(under: outside).isEmpty)
        #expect(files(in: bob.path + ".real/new").count == 1)
    }
}
