// RelayCredentials: the `relayhost_credentials_file` — the user name and password to AUTH with at a relay host
// or a transport_maps next hop (Postfix's smtp_sasl_password_maps). Lines are `[host]:port user:password` or
// `host user password`. The file must be readable by its owner only, or the server refuses to start.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeAccounts
import PostOfficeSASL

/// Client credentials per next hop, read from a file of mode 0600 (or stricter).
struct RelayCredentials: Sendable, Equatable {
    private var entries: [String: PlainCredentials] = [:]

    init() {}

    /// Reads `path`; throws when the file is readable by its group or others (naming `chmod 600`) or a line
    /// cannot be read. Passwords never appear in an error.
    init(file path: String) throws(ConfigurationError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw ConfigurationError(file: path, line: 0, message: "relayhost_credentials_file cannot be read (\(String(cString: strerror(errno))))")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw ConfigurationError(
                file: path, line: 0,
                message: "holds passwords but is readable by others (mode \(String(status.st_mode & 0o777, radix: 8))): run chmod 600 \(path)")
        }
        let text: String
        do {
            text = try AccountsFile.read(path) ?? ""
        } catch {
            throw ConfigurationError(file: path, line: 0, message: "cannot be read: \(error)")
        }
        try self.init(parsing: text, file: path)
    }

    init(parsing text: String, file: String) throws(ConfigurationError) {
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let words = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if words.isEmpty || words[0].hasPrefix("#") { continue }
            let user: String
            let password: String
            if words.count == 2, let colon = words[1].firstIndex(of: ":") {
                user = String(words[1][..<colon])
                password = String(words[1][words[1].index(after: colon)...])
            } else if words.count == 3 {
                (user, password) = (words[1], words[2])
            } else {
                throw ConfigurationError(file: file, line: number, message: "expected '[host]:port user:password' or 'host user password'")
            }
            guard !user.isEmpty, !password.isEmpty else {
                throw ConfigurationError(file: file, line: number, message: "the user name and the password must not be empty")
            }
            entries[words[0].lowercased()] = PlainCredentials(authenticationIdentity: user, password: password)
        }
    }

    /// The credentials for `host` on `port`: `[host]:port`, then `host:port`, then `[host]`, then `host`.
    func credentials(host: String, port: Int) -> PlainCredentials? {
        let name = host.lowercased()
        for key in ["[\(name)]:\(port)", "\(name):\(port)", "[\(name)]", name] {
            if let found = entries[key] { return found }
        }
        return nil
    }

    var isEmpty: Bool { entries.isEmpty }
}
