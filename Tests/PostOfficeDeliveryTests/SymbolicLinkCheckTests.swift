// SymbolicLinkCheckTests: the fast containment check in front of realpath — it may say "safe" only when
// every component below the mail root is a real directory, and must hand anything else to realpath.

import Foundation
import Testing

@testable import PostOfficeDelivery

@Suite struct SymbolicLinkCheckTests {
    /// A mail root with `a/Maildir` (real), `link -> a` (inside) and `out -> /tmp` (outside).
    private func makeRoot() throws -> String {
        let root = NSTemporaryDirectory() + "po-symlink-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: root + "/a/Maildir", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/a")
        try FileManager.default.createSymbolicLink(atPath: root + "/out", withDestinationPath: "/tmp")
        try "x".write(toFile: root + "/file", atomically: false, encoding: .utf8)
        return root
    }

    @Test(arguments: [
        ("a/Maildir", true),
        ("a", true),
        ("link/Maildir", false),
        ("out", false),
        ("out/x", false),
        ("file", false),
        ("missing/Maildir", false),
        ("a/../a/Maildir", false),
        ("a/./Maildir", false),
        ("a//Maildir", false),
    ])
    func onlyPlainDirectoriesTakeTheFastPath(relative: String, expected: Bool) throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(DeliveryTransaction.hasNoSymbolicLinkBelowRoot(root + "/" + relative, root: root) == expected)
        #expect(DeliveryTransaction.hasNoSymbolicLinkBelowRoot(root + "/" + relative, root: root + "/") == expected)
    }

    @Test(arguments: ["/elsewhere/a/Maildir", "", "relative/a"])
    func pathsOutsideTheRootNeverTakeTheFastPath(path: String) throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(!DeliveryTransaction.hasNoSymbolicLinkBelowRoot(path, root: root))
        #expect(!DeliveryTransaction.hasNoSymbolicLinkBelowRoot(root + "x/a", root: root))
    }
}
