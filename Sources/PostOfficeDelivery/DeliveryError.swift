// DeliveryError: a failure thrown while a transaction is opened or fed, and the mapping of storage errors
// (errno) to the temporary RFC 3463 codes an SMTP client retries on.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// A delivery failure thrown by ``LocalDeliveryAgent/beginTransaction(reversePath:recipients:trace:)`` and
/// ``DeliveryTransaction/append(_:)``.
public struct DeliveryError: Error, Hashable, Sendable, CustomStringConvertible {
    public var statusCode: EnhancedStatusCode
    public var reason: String

    public init(_ statusCode: EnhancedStatusCode, _ reason: String) {
        self.statusCode = statusCode
        self.reason = reason
    }

    public var isTemporary: Bool { statusCode.isTemporary }

    /// The matching outcome.
    public var outcome: DeliveryOutcome {
        statusCode.isTemporary ? .temporaryFailure(statusCode, reason) : .permanentFailure(statusCode, reason)
    }

    public var description: String { "\(statusCode) \(reason)" }

    /// Maps a storage error: quota → 4.2.2, no space → 4.3.1, anything else (EIO, EACCES...) → 4.3.0.
    /// Storage errors are always temporary: an administrator can fix them and the client retries.
    public init(storage error: SystemError) {
        switch error.errno {
        case EDQUOT: self.init(EnhancedStatusCode(4, 2, 2), "Mailbox full")
        case ENOSPC: self.init(EnhancedStatusCode(4, 3, 1), "Mail system full")
        default: self.init(EnhancedStatusCode(4, 3, 0), "Mail system error")
        }
    }
}
