// UserDatabase: the users of a Dovecot-style passwd-file, for POP3 login and for `postoffice user ...`.
// Parsing keeps every line (comments, blank lines, unknown formatting) so an edit rewrites only what it
// changed. Authentication does the same crypt work whether or not the user exists.

import PostOfficeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The users of a passwd-file
/// ([Dovecot passwd-file](https://doc.dovecot.org/main/core/config/auth/databases/passwd_file.html)):
/// one `user:{SCHEME}hash[:uid:gid:gecos:home:shell:extra_fields]` per line, `#` comments, blank lines.
///
/// User names are full addresses in canonical form (ASCII letters lowercased, local part too; see
/// ``AccountName``), and lookups match them byte for byte (``MailAddress/lookup(_:in:)``). A login
/// may give just the local part when there is exactly one local domain (``localDomains``).
///
/// A value type: load it, look users up, or change it and ``save(to:)`` it. ``edit(_:_:)`` does a locked
/// load-change-save cycle for the CLI.
public struct UserDatabase: Sendable {
    /// One line of the file, kept for rewriting.
    enum Line: Sendable, Hashable {
        /// A comment or blank line, written back unchanged.
        case verbatim(String)
        /// A user; `original` is the line as read, reused while the account is unchanged.
        case user(UserAccount, original: String?)
    }

    /// The file name used in error messages (`users:3: ...`).
    public private(set) var file: String
    private var lines: [Line] = []
    /// User name → index into `lines`.
    private var positions: [String: Int] = [:]
    private var configuredDomains: Set<String>?
    /// What unknown users are verified against, so they cost as much as known ones.
    private var dummyHash = Self.builtInDummyHash
    /// The domains of all users, kept current by `refreshDerivedState`.
    private var userDomains: Set<String> = []

    /// Called after every password check of ``authenticate(login:password:)`` with whether the user
    /// exists. For tests and metrics; it must not change what the caller tells the client.
    public var passwordCheckObserver: (@Sendable (_ userExists: Bool) -> Void)?

    /// An empty database; `file` names it in error messages.
    public init(file: String = "users") {
        self.file = file
    }

    /// Parses passwd-file text.
    ///
    /// - Throws: ``AccountsError/syntax(file:line:message:)`` for the first bad line, such as
    ///   `users:3: missing password field`, `users:4: unknown password scheme "SSHA"`,
    ///   `users:5: duplicate user alice@example.test (first on line 2)`.
    public init(parsing text: String, file: String = "users") throws(AccountsError) {
        self.init(file: file)
        var firstLine: [String: Int] = [:]
        for line in PhysicalLine.split(text) {
            let (number, raw, content) = (line.number, line.raw, line.content)
            let trimmed = content.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                lines.append(.verbatim(raw))
                continue
            }
            let account: UserAccount
            do {
                account = try Self.parseAccount(content)
            } catch {
                throw .syntax(file: file, line: number, message: error.message)
            }
            if let first = firstLine[account.name] {
                throw .syntax(
                    file: file, line: number, message: "duplicate user \(account.name) (first on line \(first))")
            }
            firstLine[account.name] = number
            positions[account.name] = lines.count
            lines.append(.user(account, original: raw))
        }
        refreshDerivedState()
    }

    /// Reads and parses `path`; error messages name the path as given.
    ///
    /// - Throws: ``AccountsError/system(_:)`` when the file cannot be read (including when it is missing).
    public static func load(from path: String) throws(AccountsError) -> UserDatabase {
        guard let text = try AccountsFile.readWrapped(path) else {
            throw .system(SystemError("open", errno: ENOENT, detail: path))
        }
        return try UserDatabase(parsing: text, file: path)
    }

    // MARK: Lookup

    /// All users, in file order.
    public var users: [UserAccount] {
        lines.compactMap { line in
            if case .user(let account, _) = line { return account }
            return nil
        }
    }

    /// The number of users.
    public var count: Int { positions.count }

    /// The user with this full address (any ASCII case), or nil.
    public func user(named name: String) -> UserAccount? {
        guard let normalized = try? AccountName.normalizedAddress(name),
            let index = MailAddress.lookup(normalized, in: positions),
            case .user(let account, _) = lines[index]
        else { return nil }
        return account
    }

    /// The domains logins may omit. Defaults to the domains the users are in; the server sets it from
    /// its configuration. A bare login (`alice`) works only when this holds exactly one domain.
    public var localDomains: Set<String> {
        get { configuredDomains ?? userDomains }
        set { configuredDomains = Set(newValue.map { (try? AccountName.normalizedDomain($0)) ?? MailAddress.canonicalDomain($0) }) }
    }

    /// The user a POP3 `USER` name refers to: a full address in any ASCII case, or a bare local part when there
    /// is exactly one local domain. Nil when there is no such user or the name is not valid.
    public func user(forLogin login: String) -> UserAccount? {
        if login.contains("@") { return user(named: login) }
        let domains = localDomains
        guard domains.count == 1, let domain = domains.first,
            let local = try? AccountName.normalizedLocalPart(login)
        else { return nil }
        return user(named: local + "@" + domain)
    }

    /// Checks a login name and password ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#section-7)
    /// `USER`/`PASS`). Returns nil for an unknown user and for a wrong password alike.
    ///
    /// An unknown user's password is verified against a dummy hash of the same scheme as the users'
    /// (the result thrown away), so the answer takes about as long either way and does not reveal which
    /// names exist.
    public func authenticate(login: String, password: String) -> AuthenticatedUser? {
        let account = user(forLogin: login)
        let matches = (account?.passwordHash ?? dummyHash).verify(password)
        passwordCheckObserver?(account != nil)
        guard let account, matches else { return nil }
        return AuthenticatedUser(name: account.name, home: account.home)
    }

    // MARK: Editing

    /// Adds a user at the end of the file.
    /// - Throws: ``AccountsError/duplicateUser(_:)`` when the name exists.
    public mutating func add(_ account: UserAccount) throws(AccountsError) {
        guard positions[account.name] == nil else { throw .duplicateUser(account.name) }
        try UserAccount.checkFields(account)
        positions[account.name] = lines.count
        lines.append(.user(account, original: nil))
        refreshDerivedState()
    }

    /// Removes a user.
    /// - Throws: ``AccountsError/unknownUser(_:)``.
    public mutating func remove(named name: String) throws(AccountsError) {
        let normalized = try AccountName.normalizedAddress(name)
        guard let index = MailAddress.lookup(normalized, in: positions) else { throw .unknownUser(normalized) }
        lines.remove(at: index)
        reindex()
        refreshDerivedState()
    }

    /// Replaces a user's password hash, keeping the other fields.
    /// - Throws: ``AccountsError/unknownUser(_:)``.
    public mutating func setPasswordHash(_ hash: PasswordHash, forUser name: String) throws(AccountsError) {
        let normalized = try AccountName.normalizedAddress(name)
        guard let index = MailAddress.lookup(normalized, in: positions), case .user(var account, _) = lines[index] else {
            throw .unknownUser(normalized)
        }
        account.passwordHash = hash
        try UserAccount.checkFields(account)
        lines[index] = .user(account, original: nil)
        refreshDerivedState()
    }

    /// Adds a user with a freshly hashed password (the `postoffice user add` path).
    /// - Throws: ``AccountsError/invalidName(_:reason:)``, ``AccountsError/duplicateUser(_:)``,
    ///   ``AccountsError/password(_:)``.
    public mutating func add(
        name: String, password: String, scheme: PasswordScheme = .sha512Crypt, random: some RandomSource
    ) throws(AccountsError) {
        let account = try UserAccount(name: name, passwordHash: Self.hash(password, scheme: scheme, random: random))
        try add(account)
    }

    /// Sets a user's password to a fresh hash of `password` (the `postoffice user passwd` path).
    /// - Throws: ``AccountsError/unknownUser(_:)``, ``AccountsError/password(_:)``.
    public mutating func setPassword(
        _ password: String, forUser name: String, scheme: PasswordScheme = .sha512Crypt, random: some RandomSource
    ) throws(AccountsError) {
        let normalized = try AccountName.normalizedAddress(name)
        guard MailAddress.lookup(normalized, in: positions) != nil else { throw .unknownUser(normalized) }
        try setPasswordHash(Self.hash(password, scheme: scheme, random: random), forUser: normalized)
    }

    private static func hash(
        _ password: String, scheme: PasswordScheme, random: some RandomSource
    ) throws(AccountsError) -> PasswordHash {
        do { return try PasswordHash.generate(password: password, scheme: scheme, random: random) } catch {
            throw .password(error)
        }
    }

    /// The file's text: unchanged lines as read, changed and new users in canonical form.
    public func rendered() -> String {
        var text = ""
        for line in lines {
            switch line {
            case .verbatim(let raw): text += raw
            case .user(let account, let original): text += original ?? account.line
            }
            text += "\n"
        }
        return text
    }

    /// Atomically replaces `path` with ``rendered()`` (mode 0600; see ``AccountsFile/replace(_:with:mode:)``).
    public func save(to path: String) throws(AccountsError) {
        try AccountsFile.replaceWrapped(path, with: rendered())
    }

    /// Locks `path`, loads it (a missing file is an empty database), runs `change`, and saves the result
    /// atomically when `change` returns. Nothing is written when it throws.
    ///
    /// - Throws: ``AccountsError`` (syntax, system), or whatever `change` throws.
    @discardableResult
    public static func edit<T>(_ path: String, _ change: (inout UserDatabase) throws -> T) throws -> T {
        try AccountsFile.withExclusiveLock(path) { () throws -> T in
            let text = try AccountsFile.readWrapped(path)
            var database = try UserDatabase(parsing: text ?? "", file: path)
            let result = try change(&database)
            try database.save(to: path)
            return result
        }
    }

    // MARK: Internals

    private static func parseAccount(_ content: String) throws(ParseFailure) -> UserAccount {
        let fields = content.split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
        let name: String
        do { name = try AccountName.normalizedAddress(fields[0]) } catch {
            if case .invalidName(_, let reason) = error {
                throw ParseFailure("invalid user name \"\(AccountsError.printable(fields[0]))\": \(reason)")
            }
            throw ParseFailure(error.description)
        }
        guard fields.count >= 2, !fields[1].isEmpty else { throw ParseFailure("missing password field") }
        let hash: PasswordHash
        do { hash = try PasswordHash(parsing: fields[1]) } catch { throw ParseFailure(error.description) }
        func field(_ index: Int) -> String { index < fields.count ? fields[index] : "" }
        do {
            return try UserAccount(
                name: name, passwordHash: hash, uid: field(2), gid: field(3), gecos: field(4), home: field(5),
                shell: field(6), extraFields: field(7))
        } catch {
            throw ParseFailure(error.description)
        }
    }

    private mutating func reindex() {
        positions = [:]
        for (index, line) in lines.enumerated() {
            if case .user(let account, _) = line { positions[account.name] = index }
        }
    }

    /// Recomputes the user domains and the dummy hash after a change.
    ///
    /// Unknown users are checked against a hash of the users' most common scheme, so their cost matches
    /// (bcrypt and SHA-crypt differ a lot). A real user's hash serves: its result is never used.
    private mutating func refreshDerivedState() {
        var counts: [PasswordScheme: Int] = [:]
        var example: [PasswordScheme: PasswordHash] = [:]
        userDomains = []
        for case .user(let account, _) in lines {
            userDomains.insert(account.domain)
            counts[account.passwordHash.scheme, default: 0] += 1
            if example[account.passwordHash.scheme] == nil {
                example[account.passwordHash.scheme] = account.passwordHash
            }
        }
        let common = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }
        dummyHash = common.flatMap { example[$0.key] } ?? Self.builtInDummyHash
    }

    /// The scheme unknown users are verified with (for tests).
    var dummyHashScheme: PasswordScheme { dummyHash.scheme }

    /// A SHA512-CRYPT hash (default 5000 rounds) of a random password nobody knows.
    static let builtInDummyHash = PasswordHash(
        scheme: .sha512Crypt,
        value:
            "$6$GysAKBujfPRjZa.M$Jy48KHFyhBCqL.DlV260pYQVJfDVKp8L2uscHNI9X/KsbV6EIkRd9eQZ4nLY6lLEX5o8AmnwN/5EgGkwzj0TG."
    )
}
