// PasswordHashTests: hashes made by other tools (doveadm pw, openssl passwd, python3 crypt) verify;
// wrong passwords fail; unknown schemes are errors; generated hashes round-trip and other tools accept them.

import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeAccounts

/// Test credentials made on the development machine for the password "secret" (unless noted) with:
/// `doveadm pw -s SCHEME -p secret`, `openssl passwd -6|-5|-1 secret`, and python3's `crypt` module.
let foreignHashes: [(tool: String, stored: String, password: String)] = [
    (
        "doveadm SHA512-CRYPT",
        "{SHA512-CRYPT}$6$8vryEBVYSQWUK/fo$m10QU7HdqokdYC6UTXCpGvwEp32wgLn3aSAwyI3r6J54jQsvQM0GsbmkIRiasyTcuDIf1oN.NvEQEhd4tf3sS/",
        "secret"
    ),
    (
        "doveadm SHA512-CRYPT rounds=10000",
        "{SHA512-CRYPT}$6$rounds=10000$WOQzOkVah6cJhBcs$gzkFHDhgbY963wPosBupaGJiXG0L5tVfCj/FYjAwFR2dN6k1MgWEwHjN6EF08x64GGIE09oR25h9kIRXzVJCa/",
        "secret"
    ),
    (
        "doveadm SHA512-CRYPT non-ASCII",
        "{SHA512-CRYPT}$6$c4zHsxOKH4uS4TTc$fFPLm3izUB7fQ4fTj/oWq9LLIoyd40ppj9r5QQN90UhIZqOUwbC0bTtnnJWApqzKKpGKDI.yTcbPtl2AxRmVU1",
        "pässwörd :#"
    ),
    (
        "doveadm BLF-CRYPT",
        "{BLF-CRYPT}$2y$05$vu..uU2Oiv72VIaW0u.n8OjABc4z94Era7nlad0P8lXQePdZ90vtu", "secret"
    ),
    (
        "doveadm BLF-CRYPT cost 8",
        "{BLF-CRYPT}$2y$08$vzKgeZRiulnnUuePUw5AeueAKNW1oVRusXlP5nP4VwaONNVKyuvvW", "correct horse"
    ),
    (
        "doveadm SHA256-CRYPT",
        "{SHA256-CRYPT}$5$AI.k4mRTosMB2u8Q$6oibF2rt6NRmhIqUD6vbE8qwFc2nlYsfyc1gbAtmXv5", "secret"
    ),
    ("doveadm MD5-CRYPT", "{MD5-CRYPT}$1$6qmMY7hI$ewk1YDGnvIwT931ynIcxw0", "secret"),
    ("doveadm CRYPT", "{CRYPT}$2y$05$5w9n7Z9YVJ9XDvOKtTvnheVzycs5gwcku4f/AHiB01aVS4v9fUj3O", "secret"),
    ("doveadm PLAIN", "{PLAIN}secret", "secret"),
    (
        "openssl passwd -6",
        "$6$vg0xqfadDgFjWuqS$L6LWzOrzsXqTp2NLkZT5gl.Y5t5qXC9yfITePo5pG2r6KICg4hhsCqUdtzlE0ZBm.qvmLeri7bmZKXuAvVXEt0",
        "secret"
    ),
    ("openssl passwd -5", "$5$XGd.FQiyS0AJ1UEX$L1iEgVwI35PrjstmmTm3Pl0atdynWUWfZJiOsJmoqWC", "secret"),
    ("openssl passwd -1", "$1$DhqK.8nX$IMwKI2HREcwsMV9mkHeGn1", "secret"),
    (
        "python3 crypt SHA512",
        "$6$i9ARrCq0T00GybLE$3W7NfY3CCq7BDv8qO1UKRGog96k3L8UskIuM2AM6TF8l9IosQMh29kMVC4tCL14XKVtmkYfRFk59F2c0dUQtj0",
        "secret"
    ),
    ("python3 crypt SHA256", "$5$8GKQF6nAzj7hhf.6$PE/eISbKAosLtxxWbOIAsGjMq7rqHfxrJ3p.0ACFjU/", "secret"),
    ("python3 crypt BLOWFISH", "$2b$12$mxFYFPw1dAejPbmcwvfebeS4WST9fCbv0WBM0KvjN7DYLUP67yKIe", "secret"),
    ("python3 crypt DES", "abNANd1rDfiNc", "secret"),
]

@Suite struct PasswordHashTests {
    @Test(arguments: foreignHashes)
    func foreignHashVerifies(_ fixture: (tool: String, stored: String, password: String)) throws {
        let hash = try PasswordHash(parsing: fixture.stored)
        #expect(hash.verify(fixture.password), "\(fixture.tool)")
        #expect(!hash.verify(fixture.password + "x"), "\(fixture.tool)")
        #expect(!hash.verify(""), "\(fixture.tool)")
        #expect(!hash.verify("Secret"), "\(fixture.tool)")
        #expect(PasswordHash.verify(fixture.password, against: fixture.stored))
    }

    @Test(arguments: [
        ("{SHA512-CRYPT}$6$abc$def", PasswordScheme.sha512Crypt, "$6$abc$def"),
        ("{sha512-crypt}$6$abc$def", .sha512Crypt, "$6$abc$def"),
        ("{BLF-CRYPT}$2b$05$x", .blowfishCrypt, "$2b$05$x"),
        ("{CRYPT}abNANd1rDfiNc", .crypt, "abNANd1rDfiNc"),
        ("$6$abc$def", .crypt, "$6$abc$def"),
        ("{PLAIN}with space", .plain, "with space"),
    ])
    func parses(_ text: String, _ scheme: PasswordScheme, _ value: String) throws {
        let hash = try PasswordHash(parsing: text)
        #expect(hash.scheme == scheme)
        #expect(hash.value == value)
    }

    @Test(arguments: [
        ("{SSHA}abcdef", PasswordHashError.unknownScheme("SSHA")),
        ("{ARGON2ID}$argon2id$v=19$m=65536", .unknownScheme("ARGON2ID")),
        ("{SHA512-CRYPT", .malformed("\"{\" without \"}\"")),
        ("{SHA512-CRYPT}", .malformed("empty value")),
        ("", .malformed("empty value")),
        ("{SHA512-CRYPT}$5$abc$def", .malformed("SHA512-CRYPT value must start with $6$")),
        ("{BLF-CRYPT}$6$abc", .malformed("BLF-CRYPT value must start with $2y$ or $2b$ or $2a$")),
        ("{PLAIN}a:b", .malformed("control character or \":\" in value")),
        ("{CRYPT}$6$a\tb", .malformed("control character or \":\" in value")),
        ("$6$ab c", .malformed("crypt value must be printable ASCII")),
    ])
    func rejects(_ text: String, _ error: PasswordHashError) {
        #expect(throws: error) { try PasswordHash(parsing: text) }
        #expect(!PasswordHash.verify("secret", against: text))
    }

    @Test func unverifiableCryptValueFails() throws {
        // A locked shadow-style entry: libcrypt refuses the setting, so nothing matches.
        let hash = try PasswordHash(parsing: "{CRYPT}!locked")
        #expect(!hash.verify("secret"))
        #expect(!hash.verify("!locked"))
        #expect(!PasswordHash(scheme: .plain, value: "a").verify("a\0b"))
    }

    @Test(arguments: [PasswordScheme.sha512Crypt, .sha256Crypt, .blowfishCrypt, .md5Crypt, .crypt, .plain])
    func generatedHashRoundTrips(_ scheme: PasswordScheme) throws {
        try #require(PasswordHash.canGenerate(scheme), "libcrypt cannot make \(scheme)")
        let random = SeededRandomSource(seed: 42)
        let hash = try PasswordHash.generate(password: "s3cret ü!", scheme: scheme, random: random)
        #expect(hash.scheme == scheme)
        #expect(hash.verify("s3cret ü!"))
        #expect(!hash.verify("s3cret u!"))
        let reparsed = try PasswordHash(parsing: hash.storedForm)
        #expect(reparsed == hash)
        if let prefix = scheme.cryptPrefixes.first { #expect(hash.value.hasPrefix(prefix)) }
    }

    @Test func generationDefaultsToSHA512AndSaltsDiffer() throws {
        let random = SeededRandomSource(seed: 1)
        let first = try PasswordHash.generate(password: "secret", random: random)
        let second = try PasswordHash.generate(password: "secret", random: random)
        #expect(first.scheme == .sha512Crypt)
        #expect(first.value.hasPrefix("$6$"))
        #expect(first.value != second.value)
        // Same seed, same salt: generation is a pure function of its injected randomness.
        let again = try PasswordHash.generate(password: "secret", random: SeededRandomSource(seed: 1))
        #expect(again == first)
        #expect(throws: PasswordHashError.passwordContainsNul) {
            try PasswordHash.generate(password: "a\0b", random: random)
        }
    }

    @Test func generatedCostIsApplied() throws {
        let hash = try PasswordHash.generate(
            password: "secret", scheme: .sha512Crypt, cost: 10_000, random: SeededRandomSource(seed: 3))
        #expect(hash.value.hasPrefix("$6$rounds=10000$"))
        #expect(hash.verify("secret"))
    }

    static let doveadm = "/usr/bin/doveadm"

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: doveadm), "doveadm is not installed (apt-get install dovecot-core)"),
        arguments: [PasswordScheme.sha512Crypt, .sha256Crypt, .blowfishCrypt])
    func doveadmAcceptsGeneratedHash(_ scheme: PasswordScheme) throws {
        let doveadm = Self.doveadm
        let hash = try PasswordHash.generate(password: "secret", scheme: scheme, random: SystemRandomSource())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: doveadm)
        process.arguments = ["pw", "-t", hash.storedForm, "-p", "secret"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "doveadm pw -t \(hash.storedForm)")
    }

    @Test(arguments: [
        ([UInt8]("abc".utf8), [UInt8]("abc".utf8), true),
        ([UInt8]("abc".utf8), [UInt8]("abd".utf8), false),
        ([UInt8]("abc".utf8), [UInt8]("abcd".utf8), false),
        ([], [], true),
        ([], [0], false),
    ])
    func constantTimeComparison(_ a: [UInt8], _ b: [UInt8], _ equal: Bool) {
        #expect(ConstantTimeComparison.equal(a, b) == equal)
        #expect(ConstantTimeComparison.equal(b, a) == equal)
    }
}
