// DovecotInteropTests: a passwd-file written by UserDatabase (generated hashes, comments, extra fields)
// is read by a real Dovecot: `doveadm auth test` against a throwaway dovecot instance in a temp dir.
// Reported as skipped (the traits) when dovecot is not installed or we are not root (dovecot drops privileges).

import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeAccounts

@Suite struct DovecotInteropTests {
    static let dovecot = "/usr/sbin/dovecot"
    static let doveadm = "/usr/bin/doveadm"
    static let installed = [dovecot, doveadm].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
        && getpwnam("dovecot") != nil

    @Test(
        .enabled(if: installed, "dovecot is not installed (apt-get install dovecot-core: dovecot, doveadm, the dovecot user)"),
        .enabled(if: getuid() == 0, "running a private dovecot instance needs root"))
    func dovecotAuthenticatesUsersWeWrote() throws {
        let (dovecot, doveadm) = (Self.dovecot, Self.doveadm)
        let directory = try TemporaryDirectory()
        let base = directory.path
        let users = base + "/users"
        try directory.write("users", "# written by PostOfficeAccountsTests\n\n")
        // Dovecot's auth process reads the 0600 file as the dovecot user; the atomic rewrite keeps the owner.
        let dovecotUser = try #require(getpwnam("dovecot"), "the dovecot package creates the dovecot user")
        let (dovecotUID, dovecotGID) = (dovecotUser.pointee.pw_uid, dovecotUser.pointee.pw_gid)
        try #require(chown(users, dovecotUID, dovecotGID) == 0)
        let random = SystemRandomSource()
        let accounts: [(name: String, password: String, scheme: PasswordScheme)] = [
            ("alice@example.test", "alice secret", .sha512Crypt),
            ("bob@example.test", "bøb:pass", .blowfishCrypt),
            ("carol@example.test", "carol", .sha256Crypt),
        ]
        let hashes = try accounts.map {
            try PasswordHash.generate(password: $0.password, scheme: $0.scheme, random: random)
        }
        try UserDatabase.edit(users) { database in
            for (account, hash) in zip(accounts, hashes) {
                try database.add(
                    UserAccount(
                        name: account.name, passwordHash: hash, gecos: "Test User",
                        extraFields: "userdb_quota_rule=*:storage=1G"))
            }
        }
        var status = stat()
        try #require(stat(users, &status) == 0)
        #expect(status.st_uid == dovecotUID)
        #expect(status.st_mode & 0o777 == 0o600)
        for name in ["run", "state"] {
            try FileManager.default.createDirectory(atPath: base + "/" + name, withIntermediateDirectories: true)
        }
        let configuration = base + "/dovecot.conf"
        try """
        base_dir = \(base)/run
        state_dir = \(base)/state
        log_path = \(base)/log
        protocols =
        ssl = no
        passdb {
          driver = passwd-file
          args = scheme=CRYPT username_format=%Lu \(users)
        }
        userdb {
          driver = static
          args = uid=nobody gid=nogroup home=\(base)/home/%u
        }

        """.write(toFile: configuration, atomically: false, encoding: .utf8)

        let server = try Self.spawnWithDefaultSignals(dovecot, ["dovecot", "-c", configuration, "-F"])
        defer {
            kill(server, SIGTERM)
            var status: Int32 = 0
            waitpid(server, &status, 0)
        }
        // Wait (bounded) for the auth socket; this is readiness polling, not a timing assertion.
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: base + "/run/auth-client") {
            usleep(50_000)
        }
        try #require(FileManager.default.fileExists(atPath: base + "/run/auth-client"), "dovecot did not start")

        func authTest(_ user: String, _ password: String) throws -> Int32 {
            let client = Process()
            client.executableURL = URL(fileURLWithPath: doveadm)
            client.arguments = ["-c", configuration, "auth", "test", user, password]
            client.standardOutput = FileHandle.nullDevice
            client.standardError = FileHandle.nullDevice
            try client.run()
            client.waitUntilExit()
            return client.terminationStatus
        }
        for account in accounts {
            #expect(try authTest(account.name, account.password) == 0, "\(account.name) \(account.scheme)")
        }
        #expect(try authTest("alice@example.test", "wrong") != 0)
        if let log = try? String(contentsOfFile: base + "/log", encoding: .utf8), log.contains("Error") {
            print("dovecot log:\n\(log)")
        }
    }

    /// Starts `path` with no signals blocked: Process children inherit the test runner's blocked
    /// signals, and a dovecot master with SIGTERM blocked never stops.
    static func spawnWithDefaultSignals(_ path: String, _ arguments: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, nil, &attributes, &argv, environ)
        guard result == 0 else { throw SystemError("posix_spawn", errno: result, detail: path) }
        return pid
    }
}
