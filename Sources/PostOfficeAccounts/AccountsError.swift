// AccountsError: everything that can go wrong reading or editing the users and alias files.
// Syntax errors name the file and line, compiler style, so an administrator can go straight to it.

import PostOfficeCore

/// A failure to read, understand or change an accounts file.
public enum AccountsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A line that cannot be understood: `users:3: missing password field`.
    case syntax(file: String, line: Int, message: String)
    /// A user name, alias key, target or domain that is not acceptable.
    case invalidName(String, reason: String)
    /// A passwd-file field (uid, home, ...) that cannot be stored.
    case invalidField(String, reason: String)
    /// `add` of a user that already exists.
    case duplicateUser(String)
    /// A user that does not exist.
    case unknownUser(String)
    /// `add` of an alias key that already exists.
    case duplicateAlias(String)
    /// An alias key that does not exist.
    case unknownAlias(String)
    /// A password hash that cannot be parsed or made.
    case password(PasswordHashError)
    /// A failed system call (open, fsync, rename, ...).
    case system(SystemError)

    public var description: String {
        switch self {
        case .syntax(let file, let line, let message): "\(file):\(line): \(message)"
        case .invalidName(let name, let reason): "invalid name \"\(Self.printable(name))\": \(reason)"
        case .invalidField(let field, let reason): "invalid \(field): \(reason)"
        case .duplicateUser(let name): "user \(name) already exists"
        case .unknownUser(let name): "no such user: \(Self.printable(name))"
        case .duplicateAlias(let key): "alias \(key) already exists"
        case .unknownAlias(let key): "no such alias: \(Self.printable(key))"
        case .password(let error): error.description
        case .system(let error): error.description
        }
    }

    /// `text` with control characters escaped, so a hostile name cannot forge log or terminal output.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
