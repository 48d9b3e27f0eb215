// QueueLocalDelivery: how the queue manager hands a queued message to a local mailbox instead of the
// network — used for reports to local senders and the postmaster. A protocol, so tests inject a fake and
// the runtime passes one backed by the LocalDeliveryAgent (AgentQueueLocalDelivery).

import PostOfficeCore
import PostOfficeQueue

/// Delivers queued messages whose recipients are in a local domain.
protocol QueueLocalDelivery: Sendable {
    /// True when mail for `domain` is delivered here (a local domain, or this server's host name).
    func isLocal(domain: String) -> Bool
    /// Delivers `message` to the recipients at `indices` (all local), reading the body from `store`; the
    /// outcome of each. Blocking (writes Maildirs): called on the storage pool.
    func deliver(_ message: QueueMessage, recipients indices: [Int], store: QueueStore) -> [Int: OutboundOutcome]
    /// Delivers by local part only (transport_maps `local`): `bob@other.example` goes where `bob@localDomain`
    /// goes. Blocking, like ``deliver(_:recipients:store:)``.
    func deliver(
        _ message: QueueMessage, recipients indices: [Int], store: QueueStore, localPartsIn localDomain: String
    ) -> [Int: OutboundOutcome]
}

extension QueueLocalDelivery {
    func deliver(
        _ message: QueueMessage, recipients indices: [Int], store: QueueStore, localPartsIn localDomain: String
    ) -> [Int: OutboundOutcome] {
        Dictionary(uniqueKeysWithValues: indices.map {
            ($0, OutboundOutcome.deferred(EnhancedStatusCode(4, 3, 5), "local delivery by local part is not available"))
        })
    }
}
