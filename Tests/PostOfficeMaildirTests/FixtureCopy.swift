// FixtureCopy: copies a maildir-fixtures/ tree to a fresh temporary directory before a test uses it,
// so tests never modify the checked-in files. Skips `.keep` files and restores the stale tmp/ mtime.
import Foundation
@testable import PostOfficeMaildir

enum FixtureCopy {
    /// The repository root, found from this file's path (Tests/PostOfficeMaildirTests/FixtureCopy.swift).
    static func repositoryRoot(filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var fixturesRoot: URL { repositoryRoot().appendingPathComponent("maildir-fixtures") }

    /// A fresh, empty temporary directory.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("po-maildir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// Copies `maildir-fixtures/<name>/Maildir` and returns the copy as a Maildir.
    static func maildir(_ name: String) throws -> Maildir {
        let source = fixturesRoot.appendingPathComponent(name).appendingPathComponent("Maildir")
        let target = URL(fileURLWithPath: try temporaryDirectory()).appendingPathComponent("Maildir")
        try copyTree(from: source, to: target)
        return Maildir(path: target.path)
    }

    /// The mtime `regenerate.sh` gives stale tmp/ files (2020-09-13 12:26:40 UTC), which git does not keep.
    static let staleModificationTime = Date(timeIntervalSince1970: 1_600_000_000)

    private static func copyTree(from source: URL, to target: URL) throws {
        let manager = FileManager.default
        try manager.createDirectory(at: target, withIntermediateDirectories: true)
        for name in try manager.contentsOfDirectory(atPath: source.path) where name != ".keep" {
            let from = source.appendingPathComponent(name)
            let to = target.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            _ = manager.fileExists(atPath: from.path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                try copyTree(from: from, to: to)
            } else {
                try manager.copyItem(at: from, to: to)
                if source.lastPathComponent == "tmp" && name.contains("stale") {
                    try manager.setAttributes([.modificationDate: staleModificationTime], ofItemAtPath: to.path)
                }
            }
        }
    }
}
