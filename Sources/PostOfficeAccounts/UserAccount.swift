// UserAccount: one user of a Dovecot passwd-file (`user:password:uid:gid:gecos:home:shell:extra_fields`).
// Fields other than name and password are kept verbatim so rewriting the file loses nothing.

import PostOfficeCore

/// One line of a passwd-file
/// ([Dovecot passwd-file](https://doc.dovecot.org/main/core/config/auth/databases/passwd_file.html)).
///
/// Only the name and password are required; the other fields are kept as written (empty when absent)
/// so a rewrite does not lose them.
public struct UserAccount: Hashable, Sendable {
    /// The full address in canonical form (see ``AccountName``): `alice@example.test`.
    public var name: String
    /// The stored password.
    public var passwordHash: PasswordHash
    /// Numeric user id, or empty.
    public var uid: String
    /// Numeric group id, or empty.
    public var gid: String
    /// Free-form comment (often the person's name), or empty.
    public var gecos: String
    /// Home directory, or empty.
    public var home: String
    /// Shell, or empty (unused by PostOffice).
    public var shell: String
    /// Dovecot extra fields (`userdb_quota_rule=*:storage=1G ...`), kept verbatim, or empty.
    public var extraFields: String

    /// Makes an account; `name` is validated and put in canonical form (ASCII letters lowercased).
    public init(
        name: String, passwordHash: PasswordHash, uid: String = "", gid: String = "", gecos: String = "",
        home: String = "", shell: String = "", extraFields: String = ""
    ) throws(AccountsError) {
        self.name = try AccountName.normalizedAddress(name)
        self.passwordHash = passwordHash
        self.uid = uid
        self.gid = gid
        self.gecos = gecos
        self.home = home
        self.shell = shell
        self.extraFields = extraFields
        try Self.checkFields(self)
    }

    /// The address as a ``MailAddress``.
    public var address: MailAddress {
        // `name` was validated to hold exactly one @ with text on both sides.
        MailAddress(name) ?? MailAddress(localPart: name, domain: "")
    }

    /// The domain part of ``name``.
    public var domain: String { address.domain }

    /// The passwd-file line, with empty trailing fields left out.
    public var line: String {
        var fields = [name, passwordHash.storedForm, uid, gid, gecos, home, shell, extraFields]
        while fields.count > 2, fields.last?.isEmpty == true { fields.removeLast() }
        return fields.joined(separator: ":")
    }

    /// The Dovecot quota rules among the extra fields, in order: the values of `userdb_quota_rule`,
    /// `userdb_quota_rule2`, ... (and the same without the `userdb_` prefix), such as `*:storage=2G`.
    public var quotaRules: [String] {
        extraFields.split(separator: " ").compactMap { field -> String? in
            guard let equals = field.firstIndex(of: "=") else { return nil }
            var key = field[..<equals]
            if key.hasPrefix("userdb_") { key = key.dropFirst("userdb_".count) }
            guard key.hasPrefix("quota_rule"), key.dropFirst("quota_rule".count).allSatisfy(\.isNumber) else { return nil }
            return String(field[field.index(after: equals)...])
        }
    }

    /// This user's quota: `base` (the configured default) with the user's quota rules applied, or nil when the
    /// user has none. A rule naming only storage keeps the default message limit, and the reverse. Rules for
    /// one folder (`Trash:storage=+100M`) are ignored: the Maildir++ quota here covers every folder.
    public func quota(startingFrom base: MailboxQuota) -> MailboxQuota? {
        let rules = quotaRules.filter { $0.hasPrefix("*:") }
        guard !rules.isEmpty else { return nil }
        var quota = base
        for rule in rules { _ = quota.apply(dovecotRule: rule) }
        return quota
    }

    static func checkFields(_ account: UserAccount) throws(AccountsError) {
        // A rule for one folder (`Trash:storage=+100M`) is Dovecot's business: ours covers all folders.
        for rule in account.quotaRules where rule.hasPrefix("*:") {
            var scratch = MailboxQuota()
            guard scratch.apply(dovecotRule: rule) else {
                throw .invalidField("extra fields", reason: "quota rule \"\(AccountsError.printable(rule))\" is not one of *:storage=SIZE (K, M, G, T; kilobytes without a suffix), *:bytes=N, *:messages=N, *:ignore")
            }
        }
        // A hash built with the unchecked initializer must still fit on one passwd-file line.
        do { _ = try PasswordHash(parsing: account.passwordHash.storedForm) } catch { throw .password(error) }
        for (label, value) in [("uid", account.uid), ("gid", account.gid)] where !value.isEmpty {
            guard value.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                throw .invalidField(label, reason: "\"\(AccountsError.printable(value))\" is not a number")
            }
        }
        let lineSafe = [
            ("gecos", account.gecos), ("home", account.home), ("shell", account.shell),
            ("extra fields", account.extraFields),
        ]
        for (label, value) in lineSafe {
            if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw .invalidField(label, reason: "contains a control character")
            }
            if label != "extra fields", value.contains(":") {
                throw .invalidField(label, reason: "contains \":\"")
            }
        }
    }
}
