// CanonicalNameTests: user and alias lookups and logins follow MailAddress's comparison rule — ASCII case
// folds, U+212A KELVIN SIGN, U+017F LONG S and U+0130 I WITH DOT do not reach the ASCII names (issue 19).

import Testing
import PostOfficeCore
@testable import PostOfficeAccounts

@Suite struct CanonicalNameTests {
    static let users = """
        kate@example.test:{PLAIN}kate-pass
        sam@example.test:{PLAIN}sam-pass
        ivan@example.test:{PLAIN}ivan-pass
        \u{C9}mile@example.test:{PLAIN}emile-pass
        """

    @Test(arguments: [
        ("kate", "kate-pass", "kate@example.test"),
        ("Kate", "kate-pass", "kate@example.test"),
        ("KATE@Example.TEST", "kate-pass", "kate@example.test"),
        ("\u{C9}MILE", "emile-pass", "\u{C9}mile@example.test"),
    ] as [(String, String, String)])
    func asciiCaseFoldsForLogin(_ login: String, _ password: String, _ name: String) throws {
        let database = try UserDatabase(parsing: Self.users)
        #expect(database.authenticate(login: login, password: password)?.name == name)
    }

    @Test(arguments: [
        ("\u{212A}ate", "kate-pass"),
        ("\u{212A}ate@example.test", "kate-pass"),
        ("\u{17F}am", "sam-pass"),
        ("\u{130}van", "ivan-pass"),
        ("\u{e9}mile", "emile-pass"),
        ("E\u{301}mile", "emile-pass"),
    ])
    func unicodeLookalikesDoNotLogIn(_ login: String, _ password: String) throws {
        let database = try UserDatabase(parsing: Self.users)
        #expect(database.authenticate(login: login, password: password) == nil)
        #expect(database.user(forLogin: login) == nil)
    }

    @Test func normalizedNamesFoldOnlyASCII() throws {
        #expect(try AccountName.normalizedAddress("Kate@Example.TEST") == "kate@example.test")
        #expect(Array(try AccountName.normalizedLocalPart("\u{212A}ate").utf8) == Array("\u{212A}ate".utf8))
        #expect(Array(try AccountName.normalizedLocalPart("\u{130}van").utf8) == Array("\u{130}van".utf8))
        #expect(Array(try AccountName.normalizedDomain("B\u{DC}CHER.test").utf8) == Array("b\u{DC}cher.test".utf8))
    }

    @Test func kelvinUserAndKateAreDifferentAccounts() throws {
        var database = try UserDatabase(parsing: Self.users)
        try database.add(UserAccount(name: "\u{212A}ate@example.test", passwordHash: PasswordHash(scheme: .plain, value: "kelvin")))
        #expect(database.authenticate(login: "kate", password: "kelvin") == nil)
        #expect(database.authenticate(login: "\u{212A}ate", password: "kate-pass") == nil)
        #expect(database.authenticate(login: "\u{212A}ate", password: "kelvin")?.name == "\u{212A}ate@example.test")
    }

    @Test func aliasesFollowTheSameRule() throws {
        let table = try AliasTable(parsing: "Kate@example.test alice@example.test\nsales: bob\n")
        #expect(table.entry(forKey: "KATE@EXAMPLE.TEST") != nil)
        #expect(table.entry(forKey: "\u{212A}ate@example.test") == nil)
        #expect(table.entry(forKey: "Sales") != nil)
        #expect(table.entry(forKey: "\u{17F}ales") == nil)
    }
}
