// DovecotUIDListTests: dovecot-uidlist versions 1 and 3 (inline and the Dovecot-written fixture), and the UIDL format.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct DovecotUIDListTests {
    @Test func versionThree() throws {
        let text = """
            3 V1700000000 N4 G51efd9132b91036bed32000083ecc375
            1 :1700000000.M1P2.host,S=10,W=12
            2 W2048 S2000 :1700000001.M1P3.host,S=2000
            3 :1700000002.M1P4.host:2,S
            junk line
            0 :1700000003.M1P5.host

            """
        let list = try #require(DovecotUIDList(parsing: text))
        #expect(list.version == 3)
        #expect(list.uidValidity == 1_700_000_000)
        #expect(list.nextUID == 4)
        #expect(list.mailboxGUID == "51efd9132b91036bed32000083ecc375")
        #expect(list.entries.map(\.uid) == [1, 2, 3])
        #expect(list.entries[1].extensions == ["W": "2048", "S": "2000"])
        #expect(list.ignoredLineCount == 2)
        #expect(list.uidsByBaseName == [
            "1700000000.M1P2.host": 1, "1700000001.M1P3.host": 2, "1700000002.M1P4.host": 3,
        ])
    }

    @Test func versionOne() throws {
        let list = try #require(DovecotUIDList(parsing: "1 1100000000 3\r\n1 1099999999.123.host:2,S\r\n2 1099999999.124.host\r\n"))
        #expect(list.version == 1)
        #expect(list.uidValidity == 1_100_000_000)
        #expect(list.nextUID == 3)
        #expect(list.mailboxGUID == nil)
        #expect(list.uidsByBaseName == ["1099999999.123.host": 1, "1099999999.124.host": 2])
    }

    @Test(arguments: ["", "garbage", "2 V1 N1", "3 N5 G00", "3 V1", "1 abc 3", "1 5", "4 V1 N1"])
    func badHeadersAreRejected(_ text: String) {
        #expect(DovecotUIDList(parsing: text) == nil)
    }

    @Test func dovecotWrittenFixtureMatchesTheMessages() throws {
        let maildir = try FixtureCopy.maildir("dovecot")
        let list = try #require(try DovecotUIDList(maildir: maildir))
        #expect(list.version == 3)
        #expect(list.ignoredLineCount == 0)
        let messages = try MaildirScanner(maildir: maildir).scan().messages
        let uids = list.uidsByBaseName
        // Every message has a UID, in delivery order 1...5.
        #expect(messages.map { uids[$0.baseName] } == [1, 2, 3, 4, 5])
        let archive = try #require(maildir.folder(named: "Archive"))
        let archiveList = try #require(try DovecotUIDList(maildir: archive))
        #expect(archiveList.entries.count == 1)
        #expect(archiveList.uidValidity != list.uidValidity)
    }

    @Test func missingFileIsNil() throws {
        let maildir = try FixtureCopy.maildir("postfix-virtual")
        #expect(try DovecotUIDList(maildir: maildir) == nil)
    }

    @Test(arguments: [
        (UInt32(1), UInt32(1_700_000_000), "000000016553F100"),
        (UInt32(0xABCDEF), UInt32(1), "00ABCDEF00000001"),
        (UInt32.max, UInt32.max, "FFFFFFFFFFFFFFFF"),
    ])
    func popUIDLInDovecotDefaultFormat(_ uid: UInt32, _ validity: UInt32, _ expected: String) {
        #expect(DovecotUIDList.uniqueIDListing(uid: uid, uidValidity: validity) == expected)
    }
}
