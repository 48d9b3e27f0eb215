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

@Suite struct MaildirLockTests {
    func freshMaildir() throws -> Maildir {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        return maildir
    }

    @Test func secondSessionInSameProcessIsRefused() throws {
        let maildir = try freshMaildir()
        let first = try MaildirLock.acquire(maildir: maildir)
        #expect(first.isHeld)
        #expect(throws: MaildirError.inUse(path: maildir.path + "/postoffice-pop3.lock")) {
            _ = try MaildirLock.acquire(maildir: maildir)
        }
        first.release()
        #expect(!first.isHeld)
        let second = try MaildirLock.acquire(maildir: maildir)
        #expect(second.isHeld)
        second.release()
        second.release()
    }

    @Test func releasedOnDeinit() throws {
        let maildir = try freshMaildir()
        do {
            let lock = try MaildirLock.acquire(maildir: maildir)
            #expect(lock.isHeld)
        }
        let again = try MaildirLock.acquire(maildir: maildir)
        #expect(again.isHeld)
    }

    @Test func otherMaildirsAreIndependent() throws {
        let one = try freshMaildir(), two = try freshMaildir()
        let a = try MaildirLock.acquire(maildir: one)
        let b = try MaildirLock.acquire(maildir: two)
        #expect(a.isHeld && b.isHeld)
    }

    static let flockAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/flock")

    /// Another process (util-linux flock(1)) holds the lock: refused; when it exits, the lock is free.
    @Test(.enabled(if: flockAvailable, "needs /usr/bin/flock (util-linux)"))
    func otherProcessHoldsTheLock() throws {
        let maildir = try freshMaildir()
        let lockPath = maildir.path + "/" + MaildirLock.defaultFileName
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        // flock(1) takes the lock, then prints and waits on stdin; closing stdin ends it.
        holder.arguments = ["-x", lockPath, "sh", "-c", "echo locked; read _"]
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        let line = output.fileHandleForReading.availableData
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("locked"))
        #expect(throws: MaildirError.inUse(path: lockPath)) { _ = try MaildirLock.acquire(maildir: maildir) }
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
        let lock = try MaildirLock.acquire(maildir: maildir)
        #expect(lock.isHeld)
    }
}
