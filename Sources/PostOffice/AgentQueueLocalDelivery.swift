// AgentQueueLocalDelivery: the runtime's QueueLocalDelivery — a queued message (a report to a local sender,
// a notice to the postmaster) goes into Maildirs through LocalDeliveryAgent's transaction, the same path
// `PostOfficeServer.submit` uses: resolve, begin, stream the body, commit (fsync'd, all copies or none).

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue

/// Delivers queued messages to local mailboxes with a ``LocalDeliveryAgent``.
struct AgentQueueLocalDelivery: QueueLocalDelivery {
    let agent: LocalDeliveryAgent

    /// The host name counts as local even when it is not a mail domain: the resolver takes
    /// `postmaster@<hostname>` (the bare `<postmaster>`), and sending it out would loop back here.
    func isLocal(domain: String) -> Bool {
        agent.directory.isLocal(domain: domain) || domain.lowercased() == agent.configuration.hostname.lowercased()
    }

    func deliver(_ message: QueueMessage, recipients indices: [Int], store: QueueStore) -> [Int: OutboundOutcome] {
        deliver(message, recipients: indices, store: store, rewriting: nil)
    }

    func deliver(
        _ message: QueueMessage, recipients indices: [Int], store: QueueStore, localPartsIn localDomain: String
    ) -> [Int: OutboundOutcome] {
        deliver(message, recipients: indices, store: store, rewriting: localDomain)
    }

    /// `rewriting`: resolve each recipient's local part in this domain instead of its own (Postfix's local(8)).
    private func deliver(
        _ message: QueueMessage, recipients indices: [Int], store: QueueStore, rewriting localDomain: String?
    ) -> [Int: OutboundOutcome] {
        var outcomes: [Int: OutboundOutcome] = [:]
        var resolved: [(index: Int, recipient: ResolvedRecipient)] = []
        for index in indices {
            var address = message.envelope.recipients[index].address
            if let localDomain { address = MailAddress(localPart: address.localPart, domain: localDomain) }
            let resolution = agent.resolve(address)
            if case .local(let mailboxes) = resolution {
                resolved.append((index, ResolvedRecipient(address: address, mailboxes: mailboxes)))
            } else {
                outcomes[index] = .failed(resolution.statusCode, "\(resolution.reason): \(address)")
            }
        }
        guard !resolved.isEmpty else { return outcomes }
        let queueID = message.id.description
        let trace = TraceInfo(
            sessionID: "queue-" + queueID.lowercased(), queueID: queueID, protocolName: "local",
            hostname: agent.configuration.hostname)
        let result: DeliveryResult
        do throws(DeliveryError) {
            let transaction = try agent.beginTransaction(
                reversePath: message.envelope.reversePath, recipients: resolved.map(\.recipient), trace: trace)
            do throws(DeliveryError) {
                let body = try Self.openBody(message.id, store: store)
                while let chunk = try Self.next(body) { try transaction.append(chunk) }
            } catch {
                transaction.abort()
                throw error
            }
            result = transaction.commit()
        } catch {
            for entry in resolved { outcomes[entry.index] = Self.outcome(error.outcome) }
            return outcomes
        }
        for (position, entry) in resolved.enumerated() {
            let outcome = position < result.recipients.count ? result.recipients[position].outcome : result.overall
            outcomes[entry.index] = Self.outcome(outcome)
        }
        return outcomes
    }

    private static func outcome(_ outcome: DeliveryOutcome) -> OutboundOutcome {
        switch outcome {
        case .delivered: .delivered("delivered to a local mailbox")
        case .temporaryFailure(let code, let text): .deferred(code, text)
        case .permanentFailure(let code, let text): .failed(code, text)
        }
    }

    /// A queue file that cannot be read is the disk's problem: try again later.
    private static func openBody(_ id: QueueID, store: QueueStore) throws(DeliveryError) -> QueueBodyReader {
        do {
            return try store.openBody(id)
        } catch {
            throw DeliveryError(EnhancedStatusCode(4, 3, 0), "Queue file unreadable: \(error)")
        }
    }

    private static func next(_ body: QueueBodyReader) throws(DeliveryError) -> [UInt8]? {
        do {
            return try body.next()
        } catch {
            throw DeliveryError(EnhancedStatusCode(4, 3, 0), "Queue file unreadable: \(error)")
        }
    }
}
