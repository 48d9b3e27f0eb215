// AliasFileCatchAllTests: `@domain TARGET` lines of the aliases file (what `postoffice alias add @domain`
// writes) catch mail for unknown users, alone or beside `catch_all =` in postoffice.conf (issue 18, item 1).

import Foundation
import PostOffice
import Testing

@Suite struct AliasFileCatchAllTests {
    /// A data folder with users and aliases files, and a server (not started) made from it.
    static func server(aliases: String, catchAll: [String: String] = [:]) throws -> (PostOfficeServer, String) {
        let data = try LiveTestSupport.temporaryDirectory("catchall")
        var configuration = PostOfficeConfiguration(hostname: "mx.example.test", dataDirectory: data)
        configuration.domains = ["example.test", "other.test"]
        configuration.catchAll = catchAll
        let users = ["alice@example.test", "bob@example.test", "carol@other.test"]
        try users.map { "\($0):{PLAIN}pw\n" }.joined().write(toFile: configuration.usersFile, atomically: true, encoding: .utf8)
        try aliases.write(toFile: configuration.aliasesFile, atomically: true, encoding: .utf8)
        return (try PostOfficeServer(configuration: configuration), data)
    }

    /// Delivers a small message with `postoffice deliver`'s logic; returns its exit code.
    static func deliver(_ server: PostOfficeServer, to recipient: String) -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return -1 }
        let message = "Subject: catch-all\n\nhello\n"
        _ = message.withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        defer { close(fds[0]) }
        return server.deliver(standardInput: fds[0], arguments: ["-f", "sender@example.net", recipient])
    }

    static func count(_ data: String, _ user: String) -> Int {
        let parts = user.split(separator: "@")
        return LiveTestSupport.files(in: "\(data)/mail/\(parts[1])/\(parts[0])/new").count
    }

    @Test func aCatchAllLineInTheAliasesFileTakesMailForUnknownUsers() throws {
        let (server, data) = try Self.server(aliases: "@example.test alice@example.test\n")
        defer { try? FileManager.default.removeItem(atPath: data) }
        #expect(Self.deliver(server, to: "nobody@example.test") == 0)
        #expect(Self.count(data, "alice@example.test") == 1)
        // Known users keep their own mail; other domains have no catch-all.
        #expect(Self.deliver(server, to: "bob@example.test") == 0)
        #expect(Self.count(data, "bob@example.test") == 1)
        #expect(Self.count(data, "alice@example.test") == 1)
        #expect(Self.deliver(server, to: "nobody@other.test") == 67)
    }

    @Test func aCatchAllWithSeveralTargetsReachesEachOfThem() throws {
        let (server, data) = try Self.server(aliases: "@example.test alice@example.test, bob@example.test\n")
        defer { try? FileManager.default.removeItem(atPath: data) }
        #expect(Self.deliver(server, to: "nobody@example.test") == 0)
        #expect(Self.count(data, "alice@example.test") == 1)
        #expect(Self.count(data, "bob@example.test") == 1)
    }

    @Test func theAliasesFileAndCatchAllInTheConfigurationWorkSideBySide() throws {
        let (server, data) = try Self.server(
            aliases: "@example.test alice@example.test\n", catchAll: ["other.test": "carol@other.test", "example.test": "bob@example.test"])
        defer { try? FileManager.default.removeItem(atPath: data) }
        #expect(Self.deliver(server, to: "nobody@other.test") == 0)
        #expect(Self.count(data, "carol@other.test") == 1)
        // For the same domain the aliases file wins: it is what `postoffice alias add` edits.
        #expect(Self.deliver(server, to: "nobody@example.test") == 0)
        #expect(Self.count(data, "alice@example.test") == 1)
        #expect(Self.count(data, "bob@example.test") == 0)
    }
}
