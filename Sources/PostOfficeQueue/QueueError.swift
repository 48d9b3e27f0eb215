// QueueError: how a queue operation failed — a system call, a missing message, a file that failed
// validation (and has been moved to corrupt/), or a caller mistake.

import PostOfficeCore

/// A failed queue operation.
public enum QueueError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A system call failed (disk full, permissions, I/O error). Temporary from the client's view.
    case system(SystemError)
    /// No message with this id in the active queue or in failed/.
    case notFound(QueueID)
    /// A file of this message failed validation; it has been moved to corrupt/ and logged.
    case corrupt(QueueID, file: String, QueueRecordError)
    /// The operation does not apply (a recipient index out of range, an operation on a failed message).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .system(let e): e.description
        case .notFound(let id): "no queued message \(id)"
        case .corrupt(let id, let file, let reason): "queued message \(id): \(file) is corrupt (\(reason))"
        case .invalidRequest(let what): what
        }
    }
}
