// PasswordHash: a stored password in Dovecot's `{SCHEME}value` form: parsing, verifying with libcrypt
// (constant-time comparison of the result), and making new salted hashes from injected randomness.

import PostOfficeCore

/// A stored password, as Dovecot writes it: `{SHA512-CRYPT}$6$salt$hash`
/// ([Dovecot password schemes](https://doc.dovecot.org/main/core/config/auth/schemes.html)).
///
/// A value without `{SCHEME}` is a plain crypt(3) string (scheme ``PasswordScheme/crypt``), as found in
/// /etc/shadow or `openssl passwd -6` output. Verification runs crypt_r(3) with the stored value as setting
/// and compares the result in constant time.
public struct PasswordHash: Hashable, Sendable {
    /// The scheme named in braces, or ``PasswordScheme/crypt`` when there were none.
    public var scheme: PasswordScheme
    /// The text after the scheme: the crypt(3) string, or for PLAIN the password itself.
    public var value: String

    /// Wraps an already-checked scheme and value.
    public init(scheme: PasswordScheme, value: String) {
        self.scheme = scheme
        self.value = value
    }

    /// Parses `{SCHEME}value` or a bare crypt(3) string.
    ///
    /// - Throws: ``PasswordHashError/unknownScheme(_:)`` for schemes PostOffice does not implement (such
    ///   as `{SSHA}`), ``PasswordHashError/malformed(_:)`` when the value does not fit its scheme.
    public init(parsing text: String) throws(PasswordHashError) {
        var scheme = PasswordScheme.crypt
        var value = Substring(text)
        if text.hasPrefix("{") {
            guard let close = text.firstIndex(of: "}") else {
                throw .malformed("\"{\" without \"}\"")
            }
            let name = String(text[text.index(after: text.startIndex)..<close])
            guard let known = PasswordScheme(name: name) else { throw .unknownScheme(name) }
            scheme = known
            value = text[text.index(after: close)...]
        }
        guard !value.isEmpty else { throw .malformed("empty value") }
        // Control characters and ':' would break the passwd-file line this value lives on.
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == ":" }) else {
            throw .malformed("control character or \":\" in value")
        }
        if scheme != .plain {
            guard value.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw .malformed("crypt value must be printable ASCII")
            }
            let prefixes = scheme.cryptPrefixes
            guard prefixes.isEmpty || prefixes.contains(where: { value.hasPrefix($0) }) else {
                throw .malformed("\(scheme.name) value must start with \(prefixes.joined(separator: " or "))")
            }
        }
        self.init(scheme: scheme, value: String(value))
    }

    /// The form stored in a passwd-file: `{SCHEME}value`.
    public var storedForm: String { "{\(scheme.name)}\(value)" }

    /// True when `password` hashes to this value. False for every failure (a password with a NUL byte,
    /// a crypt setting libcrypt refuses): a hash that cannot be checked never lets anyone in.
    public func verify(_ password: String) -> Bool {
        guard !password.utf8.contains(0) else { return false }
        switch scheme {
        case .plain:
            return ConstantTimeComparison.equal(Array(password.utf8), Array(value.utf8))
        case .sha512Crypt, .sha256Crypt, .blowfishCrypt, .md5Crypt, .crypt:
            guard let computed = CryptLibrary.hash(password: password, setting: value) else { return false }
            return ConstantTimeComparison.equal(Array(computed.utf8), Array(value.utf8))
        }
    }

    /// Parses `stored` and verifies `password` against it; false when `stored` cannot be parsed
    /// (unknown scheme, malformed value).
    public static func verify(_ password: String, against stored: String) -> Bool {
        guard let hash = try? PasswordHash(parsing: stored) else { return false }
        return hash.verify(password)
    }

    /// Makes a new hash of `password` with a fresh salt drawn from `random`.
    ///
    /// - Parameters:
    ///   - scheme: ``PasswordScheme/sha512Crypt`` by default. ``PasswordScheme/crypt`` also makes
    ///     SHA-512. ``PasswordScheme/plain`` stores the password itself (tests only).
    ///   - cost: rounds (SHA-crypt) or log2 cost (bcrypt); 0 for libcrypt's default (5000 rounds for
    ///     SHA-crypt, as Dovecot uses).
    ///   - random: the salt's entropy; pass ``SystemRandomSource`` outside tests.
    /// - Throws: ``PasswordHashError/unsupportedScheme(_:)`` when libcrypt cannot make the scheme,
    ///   ``PasswordHashError/passwordContainsNul``.
    public static func generate(
        password: String, scheme: PasswordScheme = .sha512Crypt, cost: UInt = 0, random: some RandomSource
    ) throws(PasswordHashError) -> PasswordHash {
        guard !password.utf8.contains(0) else { throw .passwordContainsNul }
        guard let prefix = scheme.generationPrefix else {
            return try PasswordHash(parsing: "{PLAIN}" + password)
        }
        var entropy: [UInt8] = []
        for _ in 0..<2 {
            let word = random.next()
            for shift in stride(from: 0, to: 64, by: 8) { entropy.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        guard let setting = CryptLibrary.makeSetting(prefix: prefix, cost: cost, entropy: entropy),
            let hashed = CryptLibrary.hash(password: password, setting: setting)
        else { throw .unsupportedScheme(scheme) }
        return PasswordHash(scheme: scheme, value: hashed)
    }

    /// True when this libcrypt can generate hashes of `scheme` (bcrypt needs libxcrypt or a BSD libc).
    public static func canGenerate(_ scheme: PasswordScheme) -> Bool {
        guard let prefix = scheme.generationPrefix else { return true }
        return CryptLibrary.makeSetting(prefix: prefix, cost: 0, entropy: [UInt8](repeating: 7, count: 16)) != nil
    }
}
