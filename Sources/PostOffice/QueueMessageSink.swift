// QueueMessageSink: a message for remote recipients written into the outbound queue — our Received: header
// first, then the bytes as received (CRLF, dot-unstuffed) — and committed with the queue's promise (fsync the
// message file, rename it into messages/, fsync messages/) before the client hears 250.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue

/// Streams one message into a ``QueueDraft``.
final class QueueMessageSink: MessageSink, @unchecked Sendable {
    private var draft: QueueDraft?
    private var failure: DeliveryOutcome?
    private let logSink: any LogSink
    private let sessionID: String
    /// Told of each commit, with the message as committed (the queue manager starts it from that).
    private let onCommit: @Sendable (QueueCommit?) -> Void

    init(
        store: QueueStore, envelope: QueueEnvelope, trace: TraceInfo, date: MailTime, sessionID: String, logSink: any LogSink,
        onCommit: @escaping @Sendable (QueueCommit?) -> Void = { _ in }
    ) {
        self.logSink = logSink
        self.sessionID = sessionID
        self.onCommit = onCommit
        do throws(QueueError) {
            let draft = try store.begin(envelope)
            // The Received: header names us as a hop (RFC 5321 §4.4) for the next server too.
            let received = TraceHeaderBuilder(trace: trace, reversePath: envelope.reversePath, date: date)
                .receivedHeader(recipient: envelope.recipients.count == 1 ? envelope.recipients[0].address : nil)
            try draft.append(Self.crlf(received))
            self.draft = draft
        } catch {
            failure = Self.outcome(error)
        }
    }

    func append(_ bytes: [UInt8]) {
        guard failure == nil, let draft else { return }
        do throws(QueueError) {
            try draft.append(bytes)
        } catch {
            failure = Self.outcome(error)
            draft.abort()
            self.draft = nil
        }
    }

    func commit() -> DeliveryOutcome {
        if let failure { return failure }
        guard let draft else { return .temporaryFailure(EnhancedStatusCode(4, 3, 0), "No queue file") }
        self.draft = nil
        do throws(QueueError) {
            // One line for the event: the store's `queue.stored` fields, with the session.
            let id = try draft.commit(logsStored: false)
            logSink.log(LogRecord(.info, "queue.accepted", session: sessionID, [
                ("queue_id", id.description), ("size", String(draft.byteCount)),
                ("recipients", String(draft.envelope.recipients.count)),
                ("from", draft.envelope.reversePath?.description ?? "<>"),
            ]))
            onCommit(draft.committed)
            return .delivered([])
        } catch {
            return Self.outcome(error)
        }
    }

    func abort() {
        draft?.abort()
        draft = nil
    }

    /// Queue failures are the disk's (full, unwritable): the client should try again later.
    private static func outcome(_ error: QueueError) -> DeliveryOutcome {
        if case .system(let system) = error, system.isResourceShortage {
            return .temporaryFailure(EnhancedStatusCode(4, 3, 1), "Queue storage is full, try again later")
        }
        return .temporaryFailure(EnhancedStatusCode(4, 3, 0), "Cannot queue the message: \(error)")
    }

    /// The trace header builder writes LF line ends for Maildir; the queue keeps the wire form, CRLF.
    private static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "\n") && previous != UInt8(ascii: "\r") { out.append(UInt8(ascii: "\r")) }
            out.append(byte)
            previous = byte
        }
        return out
    }
}

/// One message with local and remote recipients: each part goes to its own sink, and the commit succeeds
/// only when both are durable. Local first: a permanent local failure (a loop, a size limit) then refuses the
/// whole message before anything is queued; a queue failure after a local success answers 4xx, and the
/// client's retry may deliver locally twice — a duplicate, never a loss.
final class SplitMessageSink: MessageSink, @unchecked Sendable {
    private let local: any MessageSink
    private let remote: any MessageSink

    init(local: any MessageSink, remote: any MessageSink) {
        self.local = local
        self.remote = remote
    }

    func append(_ bytes: [UInt8]) {
        local.append(bytes)
        remote.append(bytes)
    }

    func commit() -> DeliveryOutcome {
        let localOutcome = local.commit()
        guard case .delivered = localOutcome else {
            remote.abort()
            return localOutcome
        }
        return remote.commit()
    }

    func abort() {
        local.abort()
        remote.abort()
    }
}
