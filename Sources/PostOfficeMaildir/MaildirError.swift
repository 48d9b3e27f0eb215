// MaildirError: what Maildir reading and flag operations report. ENOENT on a message is its own case
// because Maildir is shared: another reader (a second POP3 session, an IMAP server) may have moved it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// An error from reading or changing messages in a Maildir.
public enum MaildirError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The message file is gone (`ENOENT`): another process deleted it or renamed it (changed flags)
    /// since the directory was scanned. Rescan to find it under its new name, if any.
    case messageVanished(path: String)
    /// The mailbox lock is held by another session or process.
    case inUse(path: String)
    /// Any other failed system call.
    case system(SystemError)

    /// Maps ENOENT on `path` to ``messageVanished(path:)``.
    static func from(_ error: SystemError, path: String) -> MaildirError {
        error.errno == ENOENT ? .messageVanished(path: path) : .system(error)
    }

    public var description: String {
        switch self {
        case .messageVanished(let path): return "message vanished (moved or deleted by another reader): \(path)"
        case .inUse(let path): return "mailbox is locked by another session: \(path)"
        case .system(let error): return error.description
        }
    }
}
