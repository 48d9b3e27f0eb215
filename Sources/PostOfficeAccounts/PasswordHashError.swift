// PasswordHashError: why a stored password string could not be understood or a new hash not be made.

/// A problem with a stored or requested password hash.
public enum PasswordHashError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The `{SCHEME}` is not one PostOffice knows (for example `{SSHA}`); such a user cannot log in.
    case unknownScheme(String)
    /// The text does not fit its scheme (for example `{SHA512-CRYPT}` without `$6$`).
    case malformed(String)
    /// This libcrypt cannot make hashes of the scheme.
    case unsupportedScheme(PasswordScheme)
    /// The password contains a NUL byte, which crypt(3) cannot take.
    case passwordContainsNul

    public var description: String {
        switch self {
        case .unknownScheme(let name): "unknown password scheme \"\(name)\""
        case .malformed(let reason): "malformed password hash: \(reason)"
        case .unsupportedScheme(let scheme): "libcrypt cannot generate \(scheme.name) hashes"
        case .passwordContainsNul: "password contains a NUL byte"
        }
    }
}
