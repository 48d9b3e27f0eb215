// AliasTableTests: both Postfix spellings, continuation lines and comments, file:line errors, and edits
// that keep untouched lines as written.

import Foundation
import Testing

@testable import PostOfficeAccounts

@Suite struct AliasTableTests {
    static let sample = """
        # virtual(5) style
        Info@Example.TEST      alice@example.test, Bob@Example.NET
        sales@example.test alice@example.test bob@example.test
        @example.test          catchall@example.test

        # aliases(5) style
        postmaster: alice
        abuse:  alice,
        # a comment inside a continued entry
        \tbob@example.test
          , carol
        """

    @Test func parsesBothStyles() throws {
        let table = try AliasTable(parsing: Self.sample)
        let keys = table.entries.map(\.key)
        #expect(
            keys == [
                .address("info@example.test"), .address("sales@example.test"), .catchAll(domain: "example.test"),
                .name("postmaster"), .name("abuse"),
            ])
        #expect(table.entry(forKey: "INFO@example.test")?.targets == ["alice@example.test", "bob@example.net"])
        #expect(table.entry(forKey: "sales@example.test")?.targets == ["alice@example.test", "bob@example.test"])
        #expect(table.entry(forKey: "@Example.test")?.targets == ["catchall@example.test"])
        #expect(table.entry(forKey: "postmaster")?.targets == ["alice"])
        #expect(table.entry(forKey: "abuse")?.targets == ["alice", "bob@example.test", "carol"])
        #expect(table.rendered() == Self.sample + "\n")
    }

    @Test(arguments: [
        ("a@x.test b@x.test", AliasEntry.Key.address("a@x.test"), ["b@x.test"]),
        ("a@x.test:b@x.test", .address("a@x.test"), ["b@x.test"]),
        ("a@x.test : b@x.test,c@x.test", .address("a@x.test"), ["b@x.test", "c@x.test"]),
        ("Root:\tAdmin", .name("root"), ["admin"]),
        ("root admin,,", .name("root"), ["admin"]),
        ("@X.Test\tall@x.test", .catchAll(domain: "x.test"), ["all@x.test"]),
        ("a@x.test b@x.test\r", .address("a@x.test"), ["b@x.test"]),
    ])
    func parsesLine(_ text: String, _ key: AliasEntry.Key, _ targets: [String]) throws {
        let table = try AliasTable(parsing: text)
        #expect(table.entries.map(\.key) == [key])
        #expect(table.entries.first?.targets == targets)
    }

    @Test(arguments: [
        (" a@x.test b@x.test", 1, "continuation line without an alias before it"),
        ("# c\n\n  b@x.test", 3, "continuation line without an alias before it"),
        ("a@x.test", 1, "alias a@x.test has no targets"),
        ("a@x.test:\n\n", 1, "alias a@x.test has no targets"),
        ("x@y.test z@y.test\npostmaster:", 2, "alias postmaster has no targets"),
        (": alice", 1, "missing alias name before \":\""),
        ("a@x_y.test b@x.test", 1, "invalid alias name \"a@x_y.test\": domain may hold only letters, digits, - and ."),
        (
            "root: |/usr/bin/procmail", 1,
            "invalid target \"|/usr/bin/procmail\": only addresses are supported as targets (no pipes, files or :include:)"
        ),
        (
            "root: /var/mail/root", 1,
            "invalid target \"/var/mail/root\": only addresses are supported as targets (no pipes, files or :include:)"
        ),
        (
            "root: :include:/etc/list", 1,
            "invalid target \":include:/etc/list\": only addresses are supported as targets (no pipes, files or :include:)"
        ),
        ("root: a@", 1, "invalid target \"a@\": empty domain"),
        ("root: @x.test", 1, "invalid target \"@x.test\": a target needs a local part"),
        ("root: a#b", 1, "invalid target \"a#b\": contains \"#\""),
        ("a: b\nb: c\nA: d", 3, "duplicate alias a (first on line 1)"),
        ("x@y.test a@y.test\n# c\nX@Y.TEST\n  b@y.test", 3, "duplicate alias x@y.test (first on line 1)"),
    ])
    func rejects(_ text: String, _ line: Int, _ message: String) {
        #expect(throws: AccountsError.syntax(file: "aliases", line: line, message: message)) {
            try AliasTable(parsing: text)
        }
    }

    @Test func errorsNameTheLoadedPath() throws {
        let directory = try TemporaryDirectory()
        try directory.write("aliases", "ok: a\nbad@x.test\n")
        let path = directory.path + "/aliases"
        #expect(throws: AccountsError.syntax(file: path, line: 2, message: "alias bad@x.test has no targets")) {
            try AliasTable.load(from: path)
        }
    }

    @Test func editsKeepUntouchedLines() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/aliases"
        try directory.write("aliases", Self.sample + "\n")
        try AliasTable.edit(path) { table in
            try table.add(AliasEntry(key: "Team@Example.test", targets: ["alice@example.test", "bob"]))
            try table.add(AliasEntry(key: "hostmaster", targets: ["postmaster"]))
            try table.remove(key: "sales@example.test")
            try table.setTargets(["dave@example.test"], forKey: "@example.test")
        }
        let text = try directory.contents("aliases")
        #expect(
            text == """
                # virtual(5) style
                Info@Example.TEST      alice@example.test, Bob@Example.NET
                @example.test\tdave@example.test

                # aliases(5) style
                postmaster: alice
                abuse:  alice,
                # a comment inside a continued entry
                \tbob@example.test
                  , carol
                team@example.test\talice@example.test, bob
                hostmaster: postmaster

                """)
        let reloaded = try AliasTable.load(from: path)
        #expect(reloaded.entries.count == 6)
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)

        #expect(throws: AccountsError.duplicateAlias("postmaster")) {
            try AliasTable.edit(path) { table in
                try table.add(AliasEntry(key: "PostMaster", targets: ["x"]))
            }
        }
        #expect(throws: AccountsError.unknownAlias("nobody@example.test")) {
            try AliasTable.edit(path) { table in try table.remove(key: "nobody@example.test") }
        }
        #expect(try directory.contents("aliases") == text)
    }

    @Test(arguments: [
        ("a b", ["x"]), ("a@x.test", []), ("a", ["|cmd"]), ("a:b", ["x"]),
    ])
    func rejectsInvalidNewEntry(_ key: String, _ targets: [String]) {
        #expect(throws: AccountsError.self) { try AliasEntry(key: key, targets: targets) }
    }
}
