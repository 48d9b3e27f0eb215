// RecipientResolution: what an envelope recipient turned out to be — local mailboxes, or why not.
// Each failure carries the RFC 3463 code the SMTP server replies with.

import PostOfficeCore

/// The outcome of resolving one recipient address.
public enum RecipientResolution: Hashable, Sendable {
    /// Deliverable: one or more mailboxes (several when an alias fans out). Never empty.
    case local([DeliveryMailbox])
    /// A local domain, but no such user, alias or catch-all: 550 5.1.1.
    case unknownUser
    /// Not a local domain; we do not relay: 550 5.7.1.
    case relayDenied
    /// The address cannot name a mailbox safely (empty, `..`, `/`, control characters...): 501 5.1.3.
    case invalidAddress
    /// Alias expansion looped or nested too deeply without reaching a mailbox: 550 5.4.6.
    case aliasLoop

    /// The enhanced status code for a failure, or 2.1.5 for `.local`.
    /// ([RFC 3463 §3.2](https://www.rfc-editor.org/rfc/rfc3463#section-3.2)).
    public var statusCode: EnhancedStatusCode {
        switch self {
        case .local: EnhancedStatusCode(2, 1, 5)
        case .unknownUser: EnhancedStatusCode(5, 1, 1)
        case .relayDenied: EnhancedStatusCode(5, 7, 1)
        case .invalidAddress: EnhancedStatusCode(5, 1, 3)
        case .aliasLoop: EnhancedStatusCode(5, 4, 6)
        }
    }

    /// Short reply text for the SMTP server.
    public var reason: String {
        switch self {
        case .local: "Recipient ok"
        case .unknownUser: "No such user here"
        case .relayDenied: "Relay access denied"
        case .invalidAddress: "Bad recipient address syntax"
        case .aliasLoop: "Alias expansion loop"
        }
    }

    /// The mailboxes, empty for failures.
    public var mailboxes: [DeliveryMailbox] {
        if case .local(let boxes) = self { return boxes }
        return []
    }
}
