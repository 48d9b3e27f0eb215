// DeliveryOutcome: how a delivery ended, with the RFC 3463 code an SMTP reply or a sysexits code is made
// from. Temporary means "try again later"; permanent means "bounce".

import PostOfficeCore

/// How the delivery of a message to one recipient (or a whole transaction) ended.
public enum DeliveryOutcome: Hashable, Sendable {
    /// Stored; the file names in `new/` (one per distinct mailbox).
    case delivered([String])
    /// Not stored; the client should retry (4.x.x: 4.2.2 mailbox full, 4.3.0 system error, 4.3.1 disk full).
    case temporaryFailure(EnhancedStatusCode, String)
    /// Not stored; retrying will not help (5.x.x: 5.4.6 loop, 5.2.2 over quota, 5.3.4 too big, 5.6.0 bad content).
    case permanentFailure(EnhancedStatusCode, String)

    /// 2.0.0 for delivered, else the failure's code.
    public var statusCode: EnhancedStatusCode {
        switch self {
        case .delivered: EnhancedStatusCode(2, 0, 0)
        case .temporaryFailure(let code, _), .permanentFailure(let code, _): code
        }
    }

    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    /// Reply text.
    public var reason: String {
        switch self {
        case .delivered: "Delivered"
        case .temporaryFailure(_, let text), .permanentFailure(_, let text): text
        }
    }
}
