// AliasTable: the Postfix-style alias file, in either of Postfix's two spellings, for `postoffice alias ...`
// and for exporting the alias map to delivery. Like the users file it keeps comments and untouched
// lines, and is edited under a lock with an atomic rewrite.

import PostOfficeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An alias file. Each logical line is one ``AliasEntry`` in either form:
///
/// ```
/// # virtual(5) style: the key, whitespace, targets separated by commas or whitespace
/// info@example.test      alice@example.test, bob@example.net
/// @example.test          catchall@example.test
/// # aliases(5) style: a name and a colon; the name applies at every local domain
/// postmaster: alice
/// abuse:  alice,
///     bob
/// ```
///
/// `#` starts a comment line (only at the start of a line, as in Postfix); a line beginning with
/// whitespace continues the previous entry ([Postfix virtual(5)](https://www.postfix.org/virtual.5.html),
/// [aliases(5)](https://www.postfix.org/aliases.5.html)). Keys are unique.
public struct AliasTable: Sendable {
    enum Line: Sendable, Hashable {
        /// Comment or blank lines, written back unchanged.
        case verbatim(String)
        /// An entry; `original` holds its physical lines as read while it is unchanged.
        case entry(AliasEntry, original: [String]?)
    }

    /// The file name used in error messages (`aliases:7: ...`).
    public private(set) var file: String
    private var lines: [Line] = []
    /// Key text → index into `lines`.
    private var positions: [String: Int] = [:]

    /// An empty table; `file` names it in error messages.
    public init(file: String = "aliases") {
        self.file = file
    }

    /// Parses alias file text.
    ///
    /// - Throws: ``AccountsError/syntax(file:line:message:)`` for the first bad entry, naming the line
    ///   the entry starts on: `aliases:4: alias info@example.test has no targets`.
    public init(parsing text: String, file: String = "aliases") throws(AccountsError) {
        self.init(file: file)
        var current: (number: Int, raws: [String], text: String)?
        var trivia: [String] = []
        var firstLine: [String: Int] = [:]

        func finish() throws(AccountsError) {
            guard let entryLines = current else { return }
            current = nil
            let entry: AliasEntry
            do { entry = try Self.parseEntry(entryLines.text) } catch {
                throw .syntax(file: file, line: entryLines.number, message: error.message)
            }
            let key = entry.key.description
            if let first = firstLine[key] {
                throw .syntax(
                    file: file, line: entryLines.number, message: "duplicate alias \(key) (first on line \(first))")
            }
            firstLine[key] = entryLines.number
            positions[key] = lines.count
            lines.append(.entry(entry, original: entryLines.raws))
        }

        for line in PhysicalLine.split(text) {
            let content = line.content
            let trimmed = content.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                trivia.append(line.raw)
                continue
            }
            if content.first == " " || content.first == "\t" {
                guard current != nil else {
                    throw .syntax(
                        file: file, line: line.number, message: "continuation line without an alias before it")
                }
                // Comments between an entry and its continuation stay inside the entry's text.
                current?.raws += trivia + [line.raw]
                current?.text += " " + trimmed
                trivia = []
                continue
            }
            try finish()
            lines += trivia.map(Line.verbatim)
            trivia = []
            current = (line.number, [line.raw], content)
        }
        try finish()
        lines += trivia.map(Line.verbatim)
    }

    /// Reads and parses `path`; error messages name the path as given.
    /// - Throws: ``AccountsError/system(_:)`` when it cannot be read (including when it is missing).
    public static func load(from path: String) throws(AccountsError) -> AliasTable {
        guard let text = try AccountsFile.readWrapped(path) else {
            throw .system(SystemError("open", errno: ENOENT, detail: path))
        }
        return try AliasTable(parsing: text, file: path)
    }

    // MARK: Lookup

    /// All entries, in file order.
    public var entries: [AliasEntry] {
        lines.compactMap { line in
            if case .entry(let entry, _) = line { return entry }
            return nil
        }
    }

    /// The entry whose key is `key` (`info@example.test`, `postmaster`, `@example.test`; any ASCII case,
    /// matched byte for byte in canonical form: ``MailAddress/lookup(_:in:)``).
    public func entry(forKey key: String) -> AliasEntry? {
        guard let parsed = try? AliasEntry.Key(parsing: key), let index = MailAddress.lookup(parsed.description, in: positions),
            case .entry(let entry, _) = lines[index]
        else { return nil }
        return entry
    }

    // MARK: Editing

    /// Appends an entry.
    /// - Throws: ``AccountsError/duplicateAlias(_:)`` when its key exists.
    public mutating func add(_ entry: AliasEntry) throws(AccountsError) {
        let key = entry.key.description
        guard positions[key] == nil else { throw .duplicateAlias(key) }
        positions[key] = lines.count
        lines.append(.entry(entry, original: nil))
    }

    /// Removes the entry with this key.
    /// - Throws: ``AccountsError/unknownAlias(_:)``.
    public mutating func remove(key: String) throws(AccountsError) {
        let normalized = try AliasEntry.Key(parsing: key).description
        guard let index = MailAddress.lookup(normalized, in: positions) else { throw .unknownAlias(normalized) }
        lines.remove(at: index)
        positions = [:]
        for (index, line) in lines.enumerated() {
            if case .entry(let entry, _) = line { positions[entry.key.description] = index }
        }
    }

    /// Replaces the targets of an existing entry.
    /// - Throws: ``AccountsError/unknownAlias(_:)``.
    public mutating func setTargets(_ targets: [String], forKey key: String) throws(AccountsError) {
        let normalized = try AliasEntry.Key(parsing: key).description
        guard let index = MailAddress.lookup(normalized, in: positions) else { throw .unknownAlias(normalized) }
        lines[index] = .entry(try AliasEntry(key: normalized, targets: targets), original: nil)
    }

    /// The file's text: unchanged entries and comments as read, changed and new entries in canonical form.
    public func rendered() -> String {
        var text = ""
        for line in lines {
            switch line {
            case .verbatim(let raw): text += raw + "\n"
            case .entry(let entry, let original):
                text += (original ?? [entry.line]).map { $0 + "\n" }.joined()
            }
        }
        return text
    }

    /// Atomically replaces `path` with ``rendered()``.
    public func save(to path: String) throws(AccountsError) {
        try AccountsFile.replaceWrapped(path, with: rendered())
    }

    /// Locks `path`, loads it (a missing file is an empty table), runs `change`, and saves the result
    /// atomically when `change` returns. Nothing is written when it throws.
    ///
    /// - Throws: ``AccountsError`` (syntax, system), or whatever `change` throws.
    @discardableResult
    public static func edit<T>(_ path: String, _ change: (inout AliasTable) throws -> T) throws -> T {
        try AccountsFile.withExclusiveLock(path) { () throws -> T in
            let text = try AccountsFile.readWrapped(path)
            var table = try AliasTable(parsing: text ?? "", file: path)
            let result = try change(&table)
            try table.save(to: path)
            return result
        }
    }

    // MARK: Internals

    private static func parseEntry(_ text: String) throws(ParseFailure) -> AliasEntry {
        let isSeparator: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let keyEnd = text.firstIndex { isSeparator($0) || $0 == ":" } ?? text.endIndex
        let key = String(text[..<keyEnd])
        guard !key.isEmpty else { throw ParseFailure("missing alias name before \":\"") }
        var rest = text[keyEnd...].drop(while: isSeparator)
        if rest.first == ":" { rest = rest.dropFirst() }
        let targets = rest.split { $0 == "," || isSeparator($0) }.map(String.init)
        let parsedKey: AliasEntry.Key
        do { parsedKey = try AliasEntry.Key(parsing: key) } catch {
            throw ParseFailure(Self.describe(error, as: "alias name"))
        }
        guard !targets.isEmpty else { throw ParseFailure("alias \(parsedKey) has no targets") }
        do { return try AliasEntry(key: key, targets: targets) } catch {
            throw ParseFailure(Self.describe(error, as: "target"))
        }
    }

    private static func describe(_ error: AccountsError, as role: String) -> String {
        if case .invalidName(let name, let reason) = error {
            return "invalid \(role) \"\(AccountsError.printable(name))\": \(reason)"
        }
        return error.description
    }
}
