// MaildirHandleTests: once a Maildir is opened as a handle, replacing tmp/, new/ or the Maildir itself by a
// symbolic link cannot carry a draft or its publication outside: every step uses the open descriptors (issue 19).

import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirHandleTests {
    /// `root/a/Maildir` with tmp/new/cur, and an `outside` directory shaped like a Maildir.
    struct Layout {
        let base: String
        var root: String { base + "/root" }
        var outside: String { base + "/outside" }
        var maildir: Maildir { Maildir(path: root + "/a/Maildir") }

        init() throws {
            base = try FixtureCopy.temporaryDirectory()
            for sub in ["tmp", "new", "cur"] {
                try FileManager.default.createDirectory(atPath: base + "/root/a/Maildir/" + sub, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: base + "/outside/" + sub, withIntermediateDirectories: true)
            }
        }

        /// Moves `relative` (below the root) aside to `<relative>.real` and puts a link to `target` in its place.
        func swapForLink(_ relative: String, to target: String) throws {
            let path = root + "/" + relative
            try FileManager.default.moveItem(atPath: path, toPath: path + ".real")
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        }

        func allFiles(under path: String) -> [String] {
            (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).filter {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path + "/" + $0, isDirectory: &isDirectory) && !isDirectory.boolValue
            }.sorted()
        }
    }

    @Test func openHandleCreatesAndRefusesLikeTheContainmentWalk() throws {
        let layout = try Layout()
        let fresh = Maildir(path: layout.root + "/b/Maildir")
        let handle = try fresh.openHandle(inside: layout.root)
        #expect(handle.maildir == fresh)
        #expect(fresh.exists)
        try FileManager.default.createSymbolicLink(atPath: layout.root + "/c", withDestinationPath: layout.outside)
        let error = try #require(throws: SystemError.self) { try Maildir(path: layout.root + "/c").openHandle(inside: layout.root) }
        #expect(error.errno == ELOOP)
    }

    /// The race of issue 19: `new/` swapped for a link after the check, before the publication.
    @Test func swappingNewForALinkAfterOpeningDoesNotRedirectThePublication() throws {
        let layout = try Layout()
        let handle = try layout.maildir.openHandle(inside: layout.root)
        let draft = try MaildirDraft(handle: handle, baseName: "race.new")
        try draft.write(Array("Subject: x\n\nbody\n".utf8))
        try layout.swapForLink("a/Maildir/new", to: layout.outside + "/new")
        let name = try draft.commit(virtualSize: nil)
        #expect(layout.allFiles(under: layout.outside).isEmpty)
        #expect(FileManager.default.fileExists(atPath: layout.root + "/a/Maildir/new.real/" + name))
    }

    @Test func swappingTmpForALinkAfterOpeningDoesNotRedirectTheDraft() throws {
        let layout = try Layout()
        let handle = try layout.maildir.openHandle(inside: layout.root)
        try layout.swapForLink("a/Maildir/tmp", to: layout.outside + "/tmp")
        let draft = try MaildirDraft(handle: handle, baseName: "race.tmp")
        try draft.write(Array("Subject: x\n\nbody\n".utf8))
        #expect(layout.allFiles(under: layout.outside).isEmpty)
        #expect(FileManager.default.fileExists(atPath: layout.root + "/a/Maildir/tmp.real/race.tmp"))
        let name = try draft.commit(virtualSize: nil)
        #expect(layout.allFiles(under: layout.outside).isEmpty)
        #expect(FileManager.default.fileExists(atPath: layout.root + "/a/Maildir/new/" + name))
    }

    @Test func swappingTheWholeMaildirForALinkChangesNothing() throws {
        let layout = try Layout()
        let handle = try layout.maildir.openHandle(inside: layout.root)
        try layout.swapForLink("a", to: layout.base + "/outside-parent")
        try FileManager.default.createDirectory(atPath: layout.base + "/outside-parent", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: layout.base + "/outside-parent/Maildir", withDestinationPath: layout.outside)
        let draft = try MaildirDraft(handle: handle, baseName: "race.whole")
        try draft.write(Array("x\n".utf8))
        let name = try draft.commit(virtualSize: nil)
        #expect(layout.allFiles(under: layout.outside).isEmpty)
        #expect(FileManager.default.fileExists(atPath: layout.root + "/a.real/Maildir/new/" + name))
    }

    @Test func abandonRemovesTheDraftThroughTheDescriptorNotThePath() throws {
        let layout = try Layout()
        let handle = try layout.maildir.openHandle(inside: layout.root)
        let draft = try MaildirDraft(handle: handle, baseName: "gone")
        // An outside file of the same name must survive the draft's removal.
        try "keep".write(toFile: layout.outside + "/tmp/gone", atomically: false, encoding: .utf8)
        try layout.swapForLink("a/Maildir/tmp", to: layout.outside + "/tmp")
        draft.abandon()
        #expect(layout.allFiles(under: layout.outside) == ["tmp/gone"])
        #expect(!FileManager.default.fileExists(atPath: layout.root + "/a/Maildir/tmp.real/gone"))
    }

    @Test func aDraftNameThatIsALinkIsNotFollowed() throws {
        let layout = try Layout()
        let handle = try layout.maildir.openHandle(inside: layout.root)
        try FileManager.default.createSymbolicLink(atPath: layout.maildir.tmpPath + "/planted", withDestinationPath: layout.outside + "/tmp/target")
        #expect(throws: SystemError.self) { _ = try MaildirDraft(handle: handle, baseName: "planted") }
        #expect(layout.allFiles(under: layout.outside).isEmpty)
    }
}
