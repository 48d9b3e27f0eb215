// LMTPMessageSink: a message for LMTP (RFC 2033), delivered recipient by recipient so each gets its own
// outcome. The bytes are spooled once; at commit every recipient gets its own delivery transaction (its
// own fsync'd file and new/ directory), so one recipient's failure leaves the others delivered.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDelivery

/// Spools one message and delivers it into each recipient's Maildirs separately, reporting one
/// ``DeliveryOutcome`` per accepted recipient in RCPT order.
final class LMTPMessageSink: MessageSink, @unchecked Sendable {
    private let envelope: MessageEnvelope
    private let recipients: [ResolvedRecipient]
    private let trace: TraceInfo
    private let agent: LocalDeliveryAgent
    private let report: (@Sendable (DeliveryReport) -> Void)?
    private let spool: SpoolWriter

    init(
        envelope: MessageEnvelope, recipients: [ResolvedRecipient], trace: TraceInfo, agent: LocalDeliveryAgent,
        spoolDirectory: String, report: (@Sendable (DeliveryReport) -> Void)?
    ) {
        self.envelope = envelope
        self.recipients = recipients
        self.trace = trace
        self.agent = agent
        self.report = report
        spool = SpoolWriter(directory: spoolDirectory, name: "\(envelope.sessionID).\(envelope.queueID)")
    }

    func append(_ bytes: [UInt8]) {
        spool.append(bytes)
    }

    /// The whole message's outcome: delivered when every recipient was, else the first failure.
    func commit() -> DeliveryOutcome {
        let outcomes = commitRecipients(count: recipients.count)
        if let failed = outcomes.first(where: { !$0.isDelivered }) { return failed }
        return .delivered(outcomes.flatMap { outcome -> [String] in
            if case .delivered(let names) = outcome { return names }
            return []
        })
    }

    /// One outcome per recipient given at creation, in order (`count` is that number).
    func commitRecipients(count: Int) -> [DeliveryOutcome] {
        defer { spool.discard() }
        let path: String
        do throws(DeliveryError) {
            path = try spool.finish()
        } catch {
            return Array(repeating: error.outcome, count: recipients.count)
        }
        // A Maildir reached by an earlier recipient (an alias and its target, or the same RCPT twice)
        // already holds this message: that recipient is delivered without a second copy.
        var stored: [String: String] = [:]
        var outcomes: [DeliveryOutcome] = []
        for recipient in recipients {
            let outcome = deliver(recipient, from: path, stored: &stored)
            outcomes.append(outcome)
            if case .delivered(let names) = outcome, let report {
                let files = recipient.mailboxes.compactMap { mailbox -> String? in
                    guard let name = stored[mailbox.destination.path], names.contains(name) else { return nil }
                    return mailbox.destination.path + "/new/" + name
                }
                report(DeliveryReport(
                    sessionID: envelope.sessionID, reversePath: envelope.reversePath, recipients: [recipient.address],
                    files: files, size: spool.size))
            }
        }
        return outcomes
    }

    func abort() {
        spool.discard()
    }

    /// One recipient's own transaction: the spooled bytes into the Maildirs not yet holding the message,
    /// fsync'd with their directories before it returns.
    private func deliver(
        _ recipient: ResolvedRecipient, from path: String, stored: inout [String: String]
    ) -> DeliveryOutcome {
        var destinations: [DeliveryMailbox] = []
        for mailbox in recipient.mailboxes
        where stored[mailbox.destination.path] == nil
            && !destinations.contains(where: { $0.destination.path == mailbox.destination.path })
        {
            destinations.append(mailbox)
        }
        if destinations.isEmpty {
            let names = recipient.mailboxes.compactMap { stored[$0.destination.path] }
            guard names.isEmpty else { return .delivered(names) }
            return .permanentFailure(EnhancedStatusCode(5, 1, 1), "<\(recipient.address)>: No such user here")
        }
        do throws(DeliveryError) {
            let transaction = try agent.beginTransaction(
                reversePath: envelope.reversePath,
                recipients: [ResolvedRecipient(address: recipient.address, mailboxes: destinations)], trace: trace)
            try Self.copy(from: path, into: transaction)
            let outcome = transaction.commit().overall
            if case .delivered(let names) = outcome {
                // One name per distinct destination, in order.
                for (mailbox, name) in zip(destinations, names) { stored[mailbox.destination.path] = name }
                let earlier = recipient.mailboxes.compactMap { mailbox -> String? in
                    destinations.contains { $0.destination.path == mailbox.destination.path } ? nil : stored[mailbox.destination.path]
                }
                return .delivered(names + earlier)
            }
            return outcome
        } catch {
            return error.outcome
        }
    }

    /// Streams the spool file into the transaction (which aborts itself when it throws).
    private static func copy(from path: String, into transaction: DeliveryTransaction) throws(DeliveryError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            transaction.abort()
            throw DeliveryError(storage: SystemError("open", errno: errno, detail: path))
        }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = SystemCall.restarting { buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) } }
            if count < 0 {
                transaction.abort()
                throw DeliveryError(storage: SystemError("read", errno: errno, detail: path))
            }
            if count == 0 { return }
            do throws(DeliveryError) {
                try transaction.append(Array(buffer[..<count]))
            } catch {
                transaction.abort()
                throw error
            }
        }
    }
}
