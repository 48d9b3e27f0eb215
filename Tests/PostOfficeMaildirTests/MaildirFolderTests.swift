// MaildirFolderTests: Maildir++ folders: create with the maildirfolder marker, list only real Maildir folders.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirFolderTests {
    @Test func createAndListFolders() throws {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        #expect(try maildir.folderNames() == [])
        let archive = try #require(try maildir.createFolder(named: "Archive"))
        #expect(archive.exists)
        #expect(FileManager.default.fileExists(atPath: archive.path + "/maildirfolder"))
        _ = try maildir.createFolder(named: "Lists.swift")
        _ = try maildir.createFolder(named: "Archive")  // again: no error
        #expect(try maildir.createFolder(named: "../escape") == nil)
        // A dot directory that is not a Maildir, and a dot file, are not folders.
        try FileManager.default.createDirectory(atPath: maildir.path + "/.NotAMaildir", withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: maildir.path + "/.file", contents: nil))
        #expect(try maildir.folderNames() == ["Archive", "Lists.swift"])
        #expect(try MaildirScanner(maildir: archive).scan().messages.isEmpty)
    }
}
