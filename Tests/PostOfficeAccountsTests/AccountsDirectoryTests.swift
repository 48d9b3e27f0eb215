// AccountsDirectoryTests: the plain-data export delivery gets: bare names expanded at every local domain,
// explicit keys winning, bare targets completed with the key's domain, catch-alls, and problem reports.

import Testing

@testable import PostOfficeAccounts

@Suite struct AccountsDirectoryTests {
    @Test func flattensUsersAndAliases() throws {
        let users = try UserDatabase(
            parsing: """
                alice@a.test:{PLAIN}x
                Bob@B.test:{PLAIN}y
                """)
        let aliases = try AliasTable(
            parsing: """
                postmaster: alice
                abuse: alice@a.test
                postmaster@b.test bob
                @b.test bob@b.test
                info@a.test alice, bob@b.test
                """)
        let directory = try AccountsDirectory(domains: ["A.test", "b.TEST"], users: users, aliases: aliases)
        #expect(directory.domains == ["a.test", "b.test"])
        #expect(directory.userAddresses == ["alice@a.test", "bob@b.test"])
        #expect(
            directory.aliases == [
                "postmaster@a.test": ["alice@a.test"],
                "postmaster@b.test": ["bob@b.test"],  // the explicit key wins over the bare name
                "abuse@a.test": ["alice@a.test"],
                "abuse@b.test": ["alice@a.test"],
                "info@a.test": ["alice@a.test", "bob@b.test"],
            ])
        #expect(directory.catchAll == ["b.test": ["bob@b.test"]])
        #expect(directory.problems.isEmpty)
    }

    @Test func reportsProblems() throws {
        let users = try UserDatabase(parsing: "alice@a.test:{PLAIN}x\nzed@elsewhere.test:{PLAIN}y\n")
        let aliases = try AliasTable(
            parsing: "alice@a.test bob@a.test\nx@other.test alice@a.test\n@c.test alice@a.test\n")
        let directory = try AccountsDirectory(domains: ["a.test"], users: users, aliases: aliases)
        #expect(
            directory.problems == [
                "alias alice@a.test has the same address as a user",
                "alias x@other.test is not in a local domain",
                "catch-all @c.test is not for a local domain",
                "user zed@elsewhere.test is not in a local domain",
            ])
    }

    @Test func rejectsInvalidConfiguredDomain() throws {
        #expect(throws: AccountsError.invalidName("bad domain", reason: "contains whitespace or a control character")) {
            try AccountsDirectory(domains: ["bad domain"], users: UserDatabase(), aliases: AliasTable())
        }
    }
}
