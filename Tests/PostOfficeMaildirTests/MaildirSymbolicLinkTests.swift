// MaildirSymbolicLinkTests: links planted inside a Maildir are never followed — the containment walk
// refuses them, scans skip them, message files open with O_NOFOLLOW (issue 19, D2), by path or for streaming.

import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirSymbolicLinkTests {
    /// A root holding `a/Maildir` (real, with tmp/new/cur), `link -> a`, `out -> <outside>`, a file, and an
    /// outside directory with a secret file.
    struct Layout {
        let base: String
        var root: String { base + "/root" }
        var outside: String { base + "/outside" }

        init() throws {
            base = try FixtureCopy.temporaryDirectory()
            let fm = FileManager.default
            for sub in ["tmp", "new", "cur"] {
                try fm.createDirectory(atPath: base + "/root/a/Maildir/" + sub, withIntermediateDirectories: true)
            }
            try fm.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
            try "secret\n".write(toFile: base + "/outside/secret", atomically: false, encoding: .utf8)
            try fm.createSymbolicLink(atPath: base + "/root/link", withDestinationPath: base + "/root/a")
            try fm.createSymbolicLink(atPath: base + "/root/out", withDestinationPath: base + "/outside")
            try "x".write(toFile: base + "/root/file", atomically: false, encoding: .utf8)
        }
    }

    @Test(arguments: [
        ("a/Maildir", true),
        ("a", true),  // no tmp/new/cur there: missing levels have nothing to follow
        ("link/Maildir", false),
        ("out", false),
        ("out/x", false),
        ("file", false),
        ("missing/Maildir", true),  // nothing there yet, so nothing to follow
        ("a/../a/Maildir", false),
        ("a/./Maildir", false),
        ("a//Maildir", false),
    ])
    func containmentRefusesLinksFilesAndDots(relative: String, expected: Bool) throws {
        let layout = try Layout()
        for root in [layout.root, layout.root + "/"] {
            let passed = (try? Maildir(path: layout.root + "/" + relative).verifyContainment(inside: root, creating: false)) != nil
            #expect(passed == expected, "\(relative) below \(root)")
        }
    }

    @Test(arguments: ["/elsewhere/a/Maildir", "relative/a", "ROOTx/a", "ROOT"])
    func pathsNotBelowTheRootAreRefused(path: String) throws {
        let layout = try Layout()
        let maildir = Maildir(path: path.replacingOccurrences(of: "ROOT", with: layout.root))
        #expect(throws: SystemError.self) { try maildir.verifyContainment(inside: layout.root, creating: true) }
    }

    @Test(arguments: ["tmp", "new", "cur"])
    func aLinkedSubdirectoryIsRefusedEvenWhenCreating(sub: String) throws {
        let layout = try Layout()
        let maildir = Maildir(path: layout.root + "/a/Maildir")
        try FileManager.default.removeItem(atPath: maildir.path + "/" + sub)
        try FileManager.default.createSymbolicLink(atPath: maildir.path + "/" + sub, withDestinationPath: layout.outside)
        let error = try #require(throws: SystemError.self) { try maildir.verifyContainment(inside: layout.root, creating: true) }
        #expect(error.errno == ELOOP)
    }

    @Test func creatingThroughALinkedMaildirCreatesNothingOutside() throws {
        let layout = try Layout()
        let maildir = Maildir(path: layout.root + "/out")
        #expect(throws: SystemError.self) { try maildir.verifyContainment(inside: layout.root, creating: true) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.outside) == ["secret"])
    }

    @Test func creatingMakesEveryLevelPrivate() throws {
        let layout = try Layout()
        let maildir = Maildir(path: layout.root + "/d.test/bob")
        try maildir.verifyContainment(inside: layout.root, creating: true)
        #expect(maildir.exists)
        for path in [layout.root + "/d.test", maildir.path, maildir.tmpPath, maildir.newPath, maildir.curPath] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(path)")
        }
    }

    @Test func scanSkipsALinkedMessageAndRetrievalRefusesIt() throws {
        let layout = try Layout()
        let maildir = Maildir(path: layout.root + "/a/Maildir")
        let name = "1700000000.M1P1.host:2,S"
        try FileManager.default.createSymbolicLink(atPath: maildir.curPath + "/" + name, withDestinationPath: layout.outside + "/secret")
        #expect(FileManager.default.createFile(atPath: maildir.newPath + "/1700000001.M1P1.host", contents: Data("ok\n".utf8)))
        let scan = try MaildirScanner(maildir: maildir).scan()
        #expect(scan.messages.map(\.name) == ["1700000001.M1P1.host"])
        #expect(scan.skippedCount == 1)
        // A message known from an earlier scan and replaced by a link since: opening it must fail.
        let linked = MaildirMessage(maildir: maildir, directory: .cur, filename: try #require(MaildirFilename(name)))
        #expect(throws: MaildirError.self) { try linked.openForReading() }
        #expect(throws: MaildirError.self) { try linked.measureSize() }
        #expect(try linked.size().byteCount != 7, "the size is the link's, not the secret's")
        let fd = try scan.messages[0].openForReading()
        close(fd)
        // The same checks when opened relative to the held directory for streaming, which also gives the size.
        let curDescriptor = open(maildir.curPath, O_RDONLY | O_DIRECTORY)
        let newDescriptor = open(maildir.newPath, O_RDONLY | O_DIRECTORY)
        defer {
            close(curDescriptor)
            close(newDescriptor)
        }
        #expect(throws: MaildirError.self) { try linked.openForStreaming(in: curDescriptor, updatingAccessTime: false) }
        let file = try scan.messages[0].openForStreaming(in: newDescriptor, updatingAccessTime: false)
        close(file.descriptor)
        #expect(file.byteCount == 3)
    }

    @Test func aFIFOUnderAMessageNameIsSkippedAndNeverBlocks() throws {
        let layout = try Layout()
        let maildir = Maildir(path: layout.root + "/a/Maildir")
        let name = "1700000000.M2P1.host"
        #expect(mkfifo(maildir.newPath + "/" + name, 0o600) == 0)
        #expect(try MaildirScanner(maildir: maildir).scan().messages.isEmpty)
        let fifo = MaildirMessage(maildir: maildir, directory: .new, filename: try #require(MaildirFilename(name)))
        #expect(throws: MaildirError.self) { try fifo.openForReading() }
        let newDescriptor = open(maildir.newPath, O_RDONLY | O_DIRECTORY)
        defer { close(newDescriptor) }
        #expect(throws: MaildirError.self) { try fifo.openForStreaming(in: newDescriptor, updatingAccessTime: true) }
    }

    @Test(arguments: ["new", "cur", "tmp"])
    func aLinkedSubdirectoryIsNeitherScannedNorSwept(sub: String) throws {
        let layout = try Layout()
        let maildir = Maildir(path: layout.root + "/a/Maildir")
        try FileManager.default.removeItem(atPath: maildir.path + "/" + sub)
        try FileManager.default.createSymbolicLink(atPath: maildir.path + "/" + sub, withDestinationPath: layout.outside)
        if sub == "tmp" {
            // An old file outside must not be removed as if it were an abandoned delivery.
            #expect(throws: SystemError.self) {
                try maildir.removeStaleTemporaryFiles(clock: ManualClock(MailTime(seconds: 4_000_000_000)), maximumAge: 1)
            }
            #expect(FileManager.default.fileExists(atPath: layout.outside + "/secret"))
        } else {
            #expect(throws: SystemError.self) { try MaildirScanner(maildir: maildir).scan() }
        }
    }

    @Test func aLinkedFolderIsNotListed() throws {
        let layout = try Layout()
        let maildir = Maildir(path: layout.root + "/a/Maildir")
        for sub in ["tmp", "new", "cur"] {
            try FileManager.default.createDirectory(atPath: layout.outside + "/" + sub, withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(atPath: maildir.path + "/.Linked", withDestinationPath: layout.outside)
        _ = try maildir.createFolder(named: "Real")
        #expect(try maildir.folderNames() == ["Real"])
    }
}
