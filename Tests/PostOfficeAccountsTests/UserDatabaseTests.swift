// UserDatabaseTests: passwd-file parsing (valid and invalid lines, file:line messages), login lookup,
// authentication through one code path for known and unknown users, and atomic edits of the file.

import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeAccounts

let aliceHash =
    "{SHA512-CRYPT}$6$8vryEBVYSQWUK/fo$m10QU7HdqokdYC6UTXCpGvwEp32wgLn3aSAwyI3r6J54jQsvQM0GsbmkIRiasyTcuDIf1oN.NvEQEhd4tf3sS/"
let bobHash = "{BLF-CRYPT}$2y$05$vu..uU2Oiv72VIaW0u.n8OjABc4z94Era7nlad0P8lXQePdZ90vtu"

/// A temporary directory removed when the test ends.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "postoffice-accounts-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func contents(_ name: String) throws -> String { try String(contentsOfFile: path + "/" + name, encoding: .utf8) }
    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: false, encoding: .utf8)
    }
}

/// Counts password checks by whether the user existed.
final class CheckCounter: @unchecked Sendable {
    private let lock = Lock()
    private var known = 0
    private var unknown = 0
    func record(_ exists: Bool) { lock.withLock { if exists { known += 1 } else { unknown += 1 } } }
    var counts: (known: Int, unknown: Int) { lock.withLock { (known, unknown) } }
}

@Suite struct UserDatabaseTests {
    static let sample = """
        # PostOffice users
        alice@Example.TEST:\(aliceHash)::::/var/mail/alice

        Bob@example.test:\(bobHash):1000:1000:Bob B:/home/bob:/bin/false:userdb_quota_rule=*:storage=1G
        carol@example.test:{PLAIN}carol-pass
        """

    @Test func parsesFieldsAndNormalizesNames() throws {
        let database = try UserDatabase(parsing: Self.sample)
        #expect(database.count == 3)
        #expect(database.users.map(\.name) == ["alice@example.test", "bob@example.test", "carol@example.test"])
        let bob = try #require(database.user(named: "BOB@EXAMPLE.test"))
        #expect(bob.uid == "1000")
        #expect(bob.gid == "1000")
        #expect(bob.gecos == "Bob B")
        #expect(bob.home == "/home/bob")
        #expect(bob.shell == "/bin/false")
        #expect(bob.extraFields == "userdb_quota_rule=*:storage=1G")
        #expect(bob.passwordHash.scheme == .blowfishCrypt)
        #expect(database.user(named: "alice@example.test")?.home == "/var/mail/alice")
        #expect(database.localDomains == ["example.test"])
    }

    @Test(arguments: [
        ("alice@example.test", "alice@example.test"),
        ("ALICE@EXAMPLE.TEST", "alice@example.test"),
        ("alice", "alice@example.test"),
        ("Carol", "carol@example.test"),
    ])
    func loginFindsUser(_ login: String, _ name: String) throws {
        let database = try UserDatabase(parsing: Self.sample)
        #expect(database.user(forLogin: login)?.name == name)
    }

    @Test(arguments: ["dave", "alice@example.net", "", "alice@", "@example.test", "al ice", "alice\r\n"])
    func loginFindsNobody(_ login: String) throws {
        let database = try UserDatabase(parsing: Self.sample)
        #expect(database.user(forLogin: login) == nil)
    }

    @Test func bareLoginNeedsExactlyOneLocalDomain() throws {
        var database = try UserDatabase(parsing: Self.sample + "\nalice@example.net:{PLAIN}x\n")
        #expect(database.localDomains == ["example.test", "example.net"])
        #expect(database.user(forLogin: "alice") == nil)
        #expect(database.user(forLogin: "alice@example.net")?.name == "alice@example.net")
        database.localDomains = ["Example.NET"]
        #expect(database.user(forLogin: "alice")?.name == "alice@example.net")
    }

    @Test(arguments: [
        ("alice", "secret", "alice@example.test"),
        ("bob@example.test", "secret", "bob@example.test"),
        ("carol", "carol-pass", "carol@example.test"),
    ])
    func authenticates(_ login: String, _ password: String, _ name: String) throws {
        let database = try UserDatabase(parsing: Self.sample)
        #expect(database.authenticate(login: login, password: password)?.name == name)
        #expect(database.authenticate(login: login, password: password + "!") == nil)
    }

    @Test func unknownUserAndWrongPasswordTakeTheSamePath() throws {
        var database = try UserDatabase(parsing: Self.sample)
        let counter = CheckCounter()
        database.passwordCheckObserver = { counter.record($0) }
        #expect(database.authenticate(login: "nobody@example.test", password: "secret") == nil)
        #expect(database.authenticate(login: "nobody", password: "x") == nil)
        #expect(database.authenticate(login: "alice", password: "wrong") == nil)
        #expect(database.authenticate(login: "bad name:", password: "x") == nil)
        #expect(counter.counts.known == 1)
        #expect(counter.counts.unknown == 3)
        // The users are mostly SHA512-CRYPT... here a tie broken by name, so the dummy is a real crypt hash.
        #expect(database.dummyHashScheme != .plain)
    }

    @Test func dummyHashFollowsTheUsersScheme() throws {
        let blowfishUsers = try UserDatabase(
            parsing: "a@x.test:\(bobHash)\nb@x.test:\(bobHash)\nc@x.test:\(aliceHash)\n")
        #expect(blowfishUsers.dummyHashScheme == .blowfishCrypt)
        #expect(UserDatabase().dummyHashScheme == .sha512Crypt)
        #expect(UserDatabase().authenticate(login: "a@x.test", password: "") == nil)
    }

    @Test(arguments: [
        ("alice@example.test", 1, "missing password field"),
        ("alice@example.test:", 1, "missing password field"),
        ("# c\nalice@example.test:{PLAIN}x\nbob@example.test", 3, "missing password field"),
        ("alice:{PLAIN}x", 1, "invalid user name \"alice\": missing @domain"),
        (
            "al ice@example.test:{PLAIN}x", 1,
            "invalid user name \"al ice@example.test\": contains whitespace or a control character"
        ),
        ("a@b@example.test:{PLAIN}x", 1, "invalid user name \"a@b@example.test\": more than one @"),
        (
            "alice@exa_mple.test:{PLAIN}x", 1,
            "invalid user name \"alice@exa_mple.test\": domain may hold only letters, digits, - and ."
        ),
        ("alice@example..test:{PLAIN}x", 1, "invalid user name \"alice@example..test\": empty domain label"),
        ("../x@example.test:{PLAIN}x", 1, "invalid user name \"../x@example.test\": contains \"/\""),
        ("\n\nalice@example.test:{SSHA}abc", 3, "unknown password scheme \"SSHA\""),
        (
            "alice@example.test:{SHA512-CRYPT}$1$abc", 1,
            "malformed password hash: SHA512-CRYPT value must start with $6$"
        ),
        ("alice@example.test:{PLAIN}x:abc", 1, "invalid uid: \"abc\" is not a number"),
        (
            "alice@example.test:{PLAIN}x\nALICE@example.test:{PLAIN}y", 2,
            "duplicate user alice@example.test (first on line 1)"
        ),
    ])
    func rejects(_ text: String, _ line: Int, _ message: String) {
        #expect(throws: AccountsError.syntax(file: "users", line: line, message: message)) {
            try UserDatabase(parsing: text)
        }
    }

    @Test func syntaxErrorDescriptionNamesFileAndLine() {
        let error = AccountsError.syntax(file: "users", line: 3, message: "missing password field")
        #expect(error.description == "users:3: missing password field")
    }

    @Test func acceptsCRLFAndMissingFinalNewline() throws {
        let database = try UserDatabase(parsing: "a@x.test:{PLAIN}p\r\n# note\r\nb@x.test:{PLAIN}q")
        #expect(database.users.map(\.name) == ["a@x.test", "b@x.test"])
        #expect(database.authenticate(login: "a@x.test", password: "p") != nil)
    }

    @Test func editsRewriteFileAtomicallyAndKeepComments() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/users"
        try directory.write("users", Self.sample + "\n")
        let random = SeededRandomSource(seed: 9)

        let hash = try PasswordHash.generate(password: "dave-pass", random: random)
        try UserDatabase.edit(path) { database in
            try database.add(UserAccount(name: "Dave@Example.test", passwordHash: hash))
        }
        var text = try directory.contents("users")
        #expect(text.hasPrefix(Self.sample + "\n"))
        #expect(text.hasSuffix("\n"))
        let after = try UserDatabase.load(from: path)
        #expect(after.authenticate(login: "dave", password: "dave-pass")?.name == "dave@example.test")

        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)

        try UserDatabase.edit(path) { database in
            try database.setPasswordHash(PasswordHash(scheme: .plain, value: "new"), forUser: "BOB@example.test")
            try database.remove(named: "carol@example.test")
        }
        text = try directory.contents("users")
        #expect(text.contains("# PostOffice users\n"))
        #expect(text.contains("\n\n"))  // the blank line survives
        #expect(
            text.contains(
                "bob@example.test:{PLAIN}new:1000:1000:Bob B:/home/bob:/bin/false:userdb_quota_rule=*:storage=1G\n"))
        #expect(!text.contains("carol"))
        #expect(text.contains("alice@Example.TEST:\(aliceHash)::::/var/mail/alice\n"))  // untouched line kept as written
        let final = try UserDatabase.load(from: path)
        #expect(final.users.map(\.name) == ["alice@example.test", "bob@example.test", "dave@example.test"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.contains(".tmp.")
        }
        #expect(leftovers.isEmpty)
    }

    @Test func editErrorsLeaveFileUntouched() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/users"
        try directory.write("users", Self.sample)
        #expect(throws: AccountsError.duplicateUser("alice@example.test")) {
            try UserDatabase.edit(path) { database in
                try database.add(
                    UserAccount(name: "ALICE@example.test", passwordHash: PasswordHash(scheme: .plain, value: "x")))
            }
        }
        #expect(throws: AccountsError.unknownUser("zed@example.test")) {
            try UserDatabase.edit(path) { database in try database.remove(named: "zed@example.test") }
        }
        #expect(throws: AccountsError.unknownUser("zed@example.test")) {
            try UserDatabase.edit(path) { database in
                try database.setPasswordHash(PasswordHash(scheme: .plain, value: "x"), forUser: "zed@example.test")
            }
        }
        #expect(try directory.contents("users") == Self.sample)
    }

    @Test func concurrentEditsAreSerialized() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/users"
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            try? UserDatabase.edit(path) { database in
                try database.add(
                    UserAccount(name: "user\(index)@x.test", passwordHash: PasswordHash(scheme: .plain, value: "p")))
            }
        }
        let database = try UserDatabase.load(from: path)
        #expect(database.count == 8)
    }

    @Test func rejectsHashThatBreaksTheLine() throws {
        var database = try UserDatabase(parsing: "a@x.test:{PLAIN}p\n")
        let broken = PasswordHash(scheme: .plain, value: "p:q")
        #expect(throws: AccountsError.password(.malformed("control character or \":\" in value"))) {
            try database.setPasswordHash(broken, forUser: "a@x.test")
        }
        #expect(throws: AccountsError.self) {
            try database.add(UserAccount(name: "b@x.test", passwordHash: broken))
        }
        #expect(database.rendered() == "a@x.test:{PLAIN}p\n")
    }

    @Test func passwordConveniencesHashWithTheInjectedRandomness() throws {
        var database = UserDatabase()
        try database.add(name: "Eve@X.test", password: "first", random: SeededRandomSource(seed: 5))
        let first = try #require(database.user(named: "eve@x.test")).passwordHash
        #expect(first.scheme == .sha512Crypt)
        #expect(database.authenticate(login: "eve@x.test", password: "first") != nil)
        try database.setPassword(
            "second", forUser: "EVE@x.test", scheme: .sha256Crypt, random: SeededRandomSource(seed: 6))
        #expect(database.user(named: "eve@x.test")?.passwordHash.scheme == .sha256Crypt)
        #expect(database.authenticate(login: "eve@x.test", password: "first") == nil)
        #expect(database.authenticate(login: "eve@x.test", password: "second") != nil)
        #expect(throws: AccountsError.unknownUser("nobody@x.test")) {
            try database.setPassword("x", forUser: "nobody@x.test", random: SeededRandomSource(seed: 7))
        }
        #expect(throws: AccountsError.password(.passwordContainsNul)) {
            try database.add(name: "nul@x.test", password: "a\0b", random: SeededRandomSource(seed: 8))
        }
    }

    @Test func editCreatesMissingFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/users"
        try UserDatabase.edit(path) { database in
            try database.add(
                UserAccount(name: "a@x.test", passwordHash: PasswordHash(scheme: .plain, value: "p"), home: "/srv/a"))
        }
        let written = try directory.contents("users")
        #expect(written == "a@x.test:{PLAIN}p::::/srv/a\n")
        #expect(throws: AccountsError.self) { try UserDatabase.load(from: directory.path + "/absent") }
    }

    @Test(arguments: [
        ("alice", AccountsError.invalidName("alice", reason: "missing @domain")),
        ("a:b@x.test", .invalidName("a:b@x.test", reason: "contains \":\"")),
        ("a\n@x.test", .invalidName("a\n@x.test", reason: "contains whitespace or a control character")),
        ("a@", .invalidName("a@", reason: "empty domain")),
        ("@x.test", .invalidName("@x.test", reason: "empty local part")),
        (".a@x.test", .invalidName(".a@x.test", reason: "misplaced dot in local part")),
        ("#a@x.test", .invalidName("#a@x.test", reason: "contains \"#\"")),
        ("a@-x.test", .invalidName("a@-x.test", reason: "domain label starts or ends with -")),
    ])
    func rejectsInvalidNewUser(_ name: String, _ error: AccountsError) {
        #expect(throws: error) { try UserAccount(name: name, passwordHash: PasswordHash(scheme: .plain, value: "x")) }
    }

    @Test(arguments: [
        ("home", "/a:b"), ("gecos", "x\ny"), ("uid", "-1"),
    ])
    func rejectsFieldsThatBreakTheLine(_ field: String, _ value: String) {
        #expect(throws: AccountsError.self) {
            let hash = PasswordHash(scheme: .plain, value: "x")
            switch field {
            case "home": _ = try UserAccount(name: "a@x.test", passwordHash: hash, home: value)
            case "gecos": _ = try UserAccount(name: "a@x.test", passwordHash: hash, gecos: value)
            default: _ = try UserAccount(name: "a@x.test", passwordHash: hash, uid: value)
            }
        }
    }

    @Test func accountLineLeavesOutEmptyTrailingFields() throws {
        let hash = PasswordHash(scheme: .plain, value: "x")
        #expect(try UserAccount(name: "A@X.test", passwordHash: hash).line == "a@x.test:{PLAIN}x")
        #expect(try UserAccount(name: "a@x.test", passwordHash: hash, gid: "5").line == "a@x.test:{PLAIN}x::5")
    }
}
