// MaildirDraftTests: the durable write path — tmp/ then new/, nothing left behind on abandon.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirDraftTests {
    func temporaryMaildir() throws -> Maildir {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("po-\(UUID().uuidString)").path
        let m = Maildir(path: dir + "/box")
        try m.create()
        return m
    }

    @Test func commitMovesIntoNewWithSizes() throws {
        let m = try temporaryMaildir()
        let names = MaildirUniqueNameGenerator(hostname: "mx/a:b", processID: 42, clock: ManualClock())
        let base = names.next()
        #expect(base == "1700000000.M0P42Q1.mx\\057a\\072b")
        let draft = try MaildirDraft(maildir: m, baseName: base)
        try draft.write(Array("Subject: hi\n\nbody\n".utf8))
        let name = try draft.commit(virtualSize: 21)
        #expect(name == base + ",S=18,W=21")
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.newPath) == [name])
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.tmpPath).isEmpty)
        #expect(try String(contentsOfFile: m.newPath + "/" + name, encoding: .utf8) == "Subject: hi\n\nbody\n")
    }

    @Test func abandonLeavesNothing() throws {
        let m = try temporaryMaildir()
        let draft = try MaildirDraft(maildir: m, baseName: "x")
        try draft.write(Array("partial".utf8))
        draft.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.tmpPath).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.newPath).isEmpty)
    }

    @Test func exclusiveCreateRefusesAnExistingName() throws {
        let m = try temporaryMaildir()
        let first = try MaildirDraft(maildir: m, baseName: "same")
        #expect(throws: SystemError.self) { _ = try MaildirDraft(maildir: m, baseName: "same") }
        first.abandon()
    }

    @Test func folderNamesCannotEscape() {
        let m = Maildir(path: "/mail/a")
        #expect(m.folder(named: "Archive")?.path == "/mail/a/.Archive")
        for bad in ["", "..", "a/b", "../x", ".hidden", "a\u{0}b", "x..y"] {
            #expect(m.folder(named: bad) == nil)
        }
    }

    @Test(arguments: ["", ".x", "a/b", "a,S=1", "a:2,S", "a\nb"])
    func invalidBaseNamesAreRefused(_ base: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("po-\(UUID().uuidString)").path
        let maildir = Maildir(path: dir + "/box")
        try maildir.create()
        #expect(throws: SystemError("open", errno: EINVAL, detail: maildir.tmpPath + "/" + base)) {
            _ = try MaildirDraft(maildir: maildir, baseName: base)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath).isEmpty)
    }

    /// Two generators with the same clock and pid make the same base name; the second commit must fail
    /// rather than replace the first message.
    @Test func commitNeverReplacesAnExistingMessage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("po-\(UUID().uuidString)").path
        let maildir = Maildir(path: dir + "/box")
        try maildir.create()
        let clock = ManualClock()
        let one = MaildirUniqueNameGenerator(hostname: "h", processID: 1, clock: clock)
        let two = MaildirUniqueNameGenerator(hostname: "h", processID: 1, clock: clock)
        let first = try MaildirDraft(maildir: maildir, baseName: one.next())
        try first.write(Array("first\n".utf8))
        let name = try first.commit(virtualSize: 7)
        let second = try MaildirDraft(maildir: maildir, baseName: two.next())
        try second.write(Array("other\n".utf8))
        #expect(throws: SystemError("rename", errno: EEXIST, detail: maildir.newPath + "/" + name)) {
            try second.commit(virtualSize: 7)
        }
        #expect(try String(contentsOfFile: maildir.newPath + "/" + name, encoding: .utf8) == "first\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath).isEmpty)
    }

    // Unnamed drafts (O_TMPFILE on new/'s file system, linked at commit). The test machines' file system
    // (ext4) has O_TMPFILE, so each test also checks that the unnamed path really ran.

    @Test("an unnamed draft appears in new/ whole at commit, with nothing ever in tmp/", arguments: [false, true])
    func unnamedCommit(throughProc: Bool) throws {
        let m = try temporaryMaildir()
        let draft = try MaildirDraft(handle: MaildirHandle(opening: m), baseName: "one", placement: .unnamedFile)
        draft.linksThroughProc = throughProc
        #expect(draft.isUnnamed)
        try draft.write(Array("Subject: hi\n\nbody\n".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.tmpPath).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.newPath).isEmpty)
        let reader = try draft.openForReading()
        var bytes = [UInt8](repeating: 0, count: 64)
        #expect(read(reader, &bytes, 64) == 18)
        close(reader)
        let name = try draft.commit(virtualSize: 21)
        #expect(name == "one,S=18,W=21")
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.newPath) == [name])
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.tmpPath).isEmpty)
        #expect(try String(contentsOfFile: m.newPath + "/" + name, encoding: .utf8) == "Subject: hi\n\nbody\n")
    }

    @Test func unnamedAbandonAndDropLeaveNothing() throws {
        let m = try temporaryMaildir()
        let abandoned = try MaildirDraft(handle: MaildirHandle(opening: m), baseName: "a", placement: .unnamedFile)
        #expect(abandoned.isUnnamed)
        try abandoned.write(Array("partial".utf8))
        abandoned.abandon()
        do {
            let dropped = try MaildirDraft(handle: MaildirHandle(opening: m), baseName: "b", placement: .unnamedFile)
            try dropped.write(Array("partial".utf8))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.tmpPath).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.newPath).isEmpty)
    }

    /// linkat never replaces: a colliding final name fails the commit and leaves the first message as it was.
    @Test func unnamedCommitNeverReplacesAnExistingMessage() throws {
        let m = try temporaryMaildir()
        let first = try MaildirDraft(maildir: m, baseName: "same")
        try first.write(Array("first\n".utf8))
        let name = try first.commit(virtualSize: 7)
        let second = try MaildirDraft(handle: MaildirHandle(opening: m), baseName: "same", placement: .unnamedFile)
        #expect(second.isUnnamed)
        try second.write(Array("other\n".utf8))
        #expect(throws: SystemError("link", errno: EEXIST, detail: m.newPath + "/" + name)) {
            try second.commit(virtualSize: 7)
        }
        #expect(try String(contentsOfFile: m.newPath + "/" + name, encoding: .utf8) == "first\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.newPath) == [name])
        #expect(try FileManager.default.contentsOfDirectory(atPath: m.tmpPath).isEmpty)
    }

    /// A several-Maildir delivery holds one unnamed draft per Maildir open at once, fills the others from the
    /// first (read back through /proc/self/fd), then links them; the ones not linked vanish when abandoned.
    @Test func unnamedDraftsInSeveralMaildirsAreHeldOpenTogether() throws {
        let maildirs = try (0..<3).map { _ in try temporaryMaildir() }
        let drafts = try maildirs.enumerated().map { index, m in
            try MaildirDraft(handle: MaildirHandle(opening: m), baseName: "copy\(index)", placement: .unnamedFile)
        }
        #expect(drafts.allSatisfy { $0.isUnnamed })
        try drafts[0].write(Array("body\n".utf8))
        let reader = try drafts[0].openForReading()
        var bytes = [UInt8](repeating: 0, count: 16)
        #expect(pread(reader, &bytes, 16, 0) == 5)
        close(reader)
        for draft in drafts.dropFirst() {
            try draft.write(Array("Delivered-To: \(draft.baseName)\n".utf8) + Array(bytes.prefix(5)))
        }
        for draft in drafts { try draft.sync() }
        let first = try drafts[0].commit(virtualSize: nil, syncDirectory: false)
        let second = try drafts[1].commit(virtualSize: nil, syncDirectory: false)
        drafts[2].abandon()
        #expect(try String(contentsOfFile: maildirs[0].newPath + "/" + first, encoding: .utf8) == "body\n")
        #expect(try String(contentsOfFile: maildirs[1].newPath + "/" + second, encoding: .utf8) == "Delivered-To: copy1\nbody\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildirs[2].newPath).isEmpty)
        for m in maildirs { #expect(try FileManager.default.contentsOfDirectory(atPath: m.tmpPath).isEmpty) }
    }

    @Test func unnamedSyncThenMoreBytesThenCommitKeepsEverything() throws {
        let m = try temporaryMaildir()
        let draft = try MaildirDraft(handle: MaildirHandle(opening: m), baseName: "s", placement: .unnamedFile)
        try draft.write(Array("head\n".utf8))
        try draft.sync()
        try draft.write(Array("tail\n".utf8))
        let name = try draft.commit(virtualSize: 12)
        #expect(try String(contentsOfFile: m.newPath + "/" + name, encoding: .utf8) == "head\ntail\n")
    }

    @Test func longHostnamesKeepNamesWithinNameMax() throws {
        let host = String(repeating: "a", count: 60) + ":" + String(repeating: "b", count: 250)
        let escaped = MaildirUniqueNameGenerator.escape(hostname: host)
        #expect(escaped.utf8.count <= 120)
        #expect(escaped.hasPrefix(String(repeating: "a", count: 60) + "\\072b"))
        let m = try temporaryMaildir()
        let names = MaildirUniqueNameGenerator(hostname: host, processID: Int32.max, clock: SystemClock())
        let draft = try MaildirDraft(maildir: m, baseName: names.next())
        try draft.write(Array("x\n".utf8))
        let name = try draft.commit(virtualSize: Int.max)
        let flagged = try MaildirMessage(maildir: m, directory: .new, filename: #require(MaildirFilename(name))).addingFlags("DFPRST")
        #expect(flagged.name.utf8.count <= 255)
    }
}

@Suite struct MaildirDraftSyncTests {
    @Test func syncThenMoreBytesThenCommitKeepsEverything() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("po-\(UUID().uuidString)").path
        let maildir = Maildir(path: dir + "/box")
        try maildir.create()
        let draft = try MaildirDraft(maildir: maildir, baseName: "synced")
        try draft.write(Array("Subject: a\n\n".utf8))
        try draft.sync()
        try draft.write(Array("body\n".utf8))
        let name = try draft.commit(virtualSize: nil)
        #expect(name == "synced,S=17")
        #expect(try String(contentsOfFile: maildir.newPath + "/" + name, encoding: .utf8) == "Subject: a\n\nbody\n")
        try? FileManager.default.removeItem(atPath: dir)
    }
}
