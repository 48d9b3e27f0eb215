// DeliveryRobustnessTests: hostile trace values end to end, Unicode spellings of one user, and concurrent
// deliveries through one agent while its directory is reloaded.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct DeliveryRobustnessTests {
    @Test func hostileHeloNeverAddsAHeaderLineToTheStoredFile() throws {
        let fixture = DeliveryFixture()
        let trace = fixture.trace(helo: "evil\r\nX-Injected: yes\u{0}\nSubject: forged")
        let tx = try fixture.agent.beginTransaction(
            reversePath: MailAddress(localPart: "a\r\nX-Injected: 1", domain: "example.com"),
            recipients: [fixture.address("alice@example.org")], trace: trace)
        try tx.append(bytes("Subject: real\r\n\r\nbody\r\n"))
        #expect(tx.commit().overall.isDelivered)
        let stored = try #require(fixture.storedMessages(fixture.maildir("alice", domain: "example.org")).first)
        let text = String(decoding: stored.bytes, as: UTF8.self)
        let headerSection = text.components(separatedBy: "\n\n")[0]
        for line in headerSection.split(separator: "\n") {
            #expect(["Return-Path: ", "Delivered-To: ", "Received: ", "\t", "Subject: real"].contains { line.hasPrefix($0) },
                    "unexpected line \(line)")
        }
        #expect(!stored.bytes.contains(0))
    }

    /// Non-ASCII bytes compare exactly (MailAddress's rule: no Unicode normalization), so the NFD spelling
    /// is another name: it neither reaches the NFC user nor gets a second Maildir.
    @Test func decomposedSpellingIsAnotherName() throws {
        let composed = "jos\u{e9}@example.org"
        let decomposed = MailAddress(localPart: "jose\u{301}", domain: "example.org")
        let fixture = DeliveryFixture(directory: DeliveryDirectory(localDomains: ["example.org"], users: [composed]))
        #expect(fixture.agent.resolve(decomposed).mailboxes.isEmpty)
        let mailboxes = fixture.agent.resolve(MailAddress(localPart: "JOS\u{e9}", domain: "Example.ORG")).mailboxes
        #expect(mailboxes.count == 1)
        let expected = Array("/jos\u{e9}".utf8)
        #expect(Array(Array(mailboxes.first?.maildir.path.utf8 ?? "".utf8).suffix(expected.count)) == expected)
    }

    @Test func concurrentDeliveriesAndReloadsStoreEveryMessageOnce() throws {
        let fixture = DeliveryFixture()
        let failures = RecordingLogSink()
        DispatchQueue.concurrentPerform(iterations: 24) { index in
            if index % 6 == 0 {
                var directory = fixture.agent.directory
                directory.addUser("extra\(index)@example.org")
                fixture.agent.updateDirectory(directory)
            }
            do {
                let tx = try fixture.agent.beginTransaction(
                    reversePath: nil, recipients: [fixture.address("team@example.org")],
                    trace: TraceInfo(sessionID: "c\(index)", queueID: "Q\(index)", protocolName: "ESMTP", hostname: "mx"))
                try tx.append(bytes("Subject: \(index)\r\n\r\nbody \(index)\r\n"))
                if !tx.commit().overall.isDelivered { failures.log(LogRecord(.error, "failed")) }
            } catch {
                failures.log(LogRecord(.error, "threw"))
            }
        }
        #expect(failures.records.isEmpty)
        #expect(files(in: fixture.maildir("alice", domain: "example.org").newPath).count == 24)
        #expect(files(in: fixture.maildir("bob", domain: "example.org").newPath).count == 24)
        #expect(fixture.agent.directory.users.count >= 4)
    }

    @Test func largeFanOutStoresEveryCopy() throws {
        var directory = DeliveryDirectory(localDomains: ["fan.test"])
        var targets: [String] = []
        for index in 0..<200 {
            directory.addUser("u\(index)@fan.test")
            targets.append("u\(index)@fan.test")
        }
        directory.addAlias("all@fan.test", targets: targets)
        let fixture = DeliveryFixture(directory: directory)
        let result = try fixture.deliver(bytes("Subject: fan\r\n\r\nhello\r\n"), to: ["all@fan.test"], chunk: 100)
        guard case .delivered(let names) = result.overall else {
            Issue.record("not delivered: \(result.overall)")
            return
        }
        #expect(names.count == 200)
        for index in [0, 1, 99, 199] {
            let stored = fixture.storedMessages(fixture.maildir("u\(index)", domain: "fan.test"))
            #expect(stored.count == 1)
            let text = String(decoding: stored.first?.bytes ?? [], as: UTF8.self)
            #expect(text.contains("Delivered-To: u\(index)@fan.test\n"))
            #expect(text.hasSuffix("\nSubject: fan\n\nhello\n"))
            #expect(stored.first?.name.hasSuffix(",S=\(stored.first?.bytes.count ?? -1),W=\(text.utf8.count + text.utf8.filter { $0 == 0x0A }.count)") == true)
        }
    }
}
