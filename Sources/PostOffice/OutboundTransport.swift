// OutboundTransport: one delivery attempt of one queued message to one destination domain — look up where
// the domain's mail goes, connect, hand the message over — and the outcome for each recipient. The queue
// manager decides when and how often; a transport decides nothing about retries.

import PostOfficeCore
import PostOfficeQueue

/// What happened to one recipient in one attempt, in the queue's vocabulary (RFC 3463 codes).
enum OutboundOutcome: Sendable, Equatable {
    case delivered(String)
    /// Try again later (4xx, a connection failure, a DNS timeout).
    case deferred(EnhancedStatusCode, String)
    /// Give up on this recipient (5xx, null MX, no such domain).
    case failed(EnhancedStatusCode, String)
}

/// The result of one attempt: per recipient index (in the message's envelope), and whether the destination
/// itself was reachable (a refused connection or a DNS failure opens the destination's circuit breaker).
struct OutboundAttempt: Sendable {
    var outcomes: [Int: OutboundOutcome]
    var destinationReachable: Bool
    /// The host that took the message (`mx.example.net`), for a report's `Remote-MTA`; nil for local delivery
    /// or when no host answered.
    var remoteHost: String? = nil
    /// The next hop offered DSN (RFC 3461), so NOTIFY went on with the message and it reports itself.
    var remoteSupportsDSN = false
}

/// Delivers queued messages to other servers.
protocol OutboundTransport: Sendable {
    /// Attempts `message` for the recipients at `indices` (all in `domain`); calls `completion` exactly once,
    /// from any thread.
    func deliver(
        _ message: QueueMessage, recipients indices: [Int], domain: String, store: QueueStore,
        completion: @escaping @Sendable (OutboundAttempt) -> Void)
}
