// BounceGenerator: turns a queued message's recipient states into delivery status notifications — asks
// DSNPolicy which reports are due, composes each with DSNComposer, and writes it into the queue as a new
// message from `<>`, streaming the original from its queue file through the report's encoder (constant
// memory). A report whose From: domain (the host name) has a DKIM key is signed: a first pass over the
// original computes the body hash, the second writes. What to mark afterwards (reported recipients, the delay warning) is the queue manager's job.

import PostOfficeCore
import PostOfficeDSN
import PostOfficeDelivery
import PostOfficeQueue

/// Makes the reports for queued messages ([RFC 3461](https://www.rfc-editor.org/rfc/rfc3461),
/// [RFC 3464](https://www.rfc-editor.org/rfc/rfc3464)).
struct BounceGenerator: Sendable {
    var policy: DSNPolicy
    var composer: DSNComposer
    var schedule: RetrySchedule
    /// Signs reports (DKIM) for a From: domain with keys; nil signs nothing.
    var signer: (any OutgoingMessageSigner)? = nil

    /// The reports `message` needs at `now`, with the outcomes they were decided on (for ``enqueue``).
    func plans(for message: QueueMessage, now: MailTime) -> (plans: [DSNPlan], outcomes: [DSNOutcome]) {
        let envelope = dsnEnvelope(message.envelope)
        let outcomes = self.outcomes(message)
        return (policy.reports(for: envelope, outcomes: outcomes, now: now), outcomes)
    }

    /// Composes the report for `plan` and commits it to `store` as a message from `<>` to `plan.to`.
    /// The original's body is read chunk by chunk and stops being read once a headers-only report has the
    /// header section. Throws when the original cannot be read or the report cannot be queued: nothing is
    /// queued then, and the caller tries again later.
    /// `explanation` replaces the human-readable part's text (the embedder's ``PostOfficeHooks/checkReport``).
    func enqueue(
        _ plan: DSNPlan, about message: QueueMessage, outcomes: [DSNOutcome], store: QueueStore, now: MailTime,
        random: any RandomSource, explanation: String? = nil
    ) throws(QueueError) -> QueueID {
        let report = composer.compose(
            plan, envelope: dsnEnvelope(message.envelope), outcomes: outcomes, date: now, random: random,
            originalIs8Bit: message.envelope.is8Bit, explanation: explanation)
        let draft = try store.begin(QueueEnvelope(
            reversePath: nil, arrival: now, recipients: [QueueRecipient(plan.to)],
            isDoubleBounce: plan.kind == .doubleBounce,
            is8Bit: report.requires8BitMIME || report.requiresSMTPUTF8))
        do throws(QueueError) {
            if let fields = try signatureFields(report, original: message, store: store), !fields.isEmpty {
                try draft.append(fields)
            }
            try draft.append(report.head)
            try stream(report, original: message, store: store) { (bytes) throws(QueueError) in try draft.append(bytes) }
            try draft.append(report.tail)
            return try draft.commit()
        } catch {
            draft.abort()
            throw error
        }
    }

    /// The original's `Message-ID`, read from the first 64 KiB of its queue file; nil when it has none or
    /// the file cannot be read.
    func originalMessageID(_ message: QueueMessage, store: QueueStore) -> String? {
        guard let body = try? store.openBody(message.id) else { return nil }
        var start: [UInt8] = []
        while start.count < 64 * 1024, let chunk = try? body.next() {
            start += chunk
            if Self.hasEmptyLine(start) { break }
        }
        return DSNOriginalHeaders.field(named: "Message-ID", in: start)
    }

    private static func hasEmptyLine(_ bytes: [UInt8]) -> Bool {
        var previous: UInt8 = 0x0A  // an empty first line ends the header section too
        for byte in bytes where byte != 0x0D {
            if byte == 0x0A, previous == 0x0A { return true }
            previous = byte
        }
        return false
    }

    /// The DKIM-Signature fields for `report`, or nil when it is not signed: the body is the rest of the
    /// head, the original read through the encoder once more, and the tail.
    private func signatureFields(_ report: DSNReport, original message: QueueMessage, store: QueueStore) throws(QueueError) -> [UInt8]? {
        guard let signer, let bodyStart = DKIMSigningSink.bodyStart(report.head),
            let signature = signer.beginSignature(header: Array(report.head[..<bodyStart]))
        else { return nil }
        signature.update(Array(report.head[bodyStart...]))
        try stream(report, original: message, store: store) { (bytes) throws(QueueError) in signature.update(bytes) }
        signature.update(report.tail)
        return signature.finish()
    }

    /// The original as the report encloses it, chunk by chunk; stops once a headers-only report has them.
    private func stream(
        _ report: DSNReport, original message: QueueMessage, store: QueueStore, into sink: ([UInt8]) throws(QueueError) -> Void
    ) throws(QueueError) {
        let body = try store.openBody(message.id)
        var encoder = report.makeEncoder()
        var out: [UInt8] = []
        while !encoder.isComplete, let chunk = try body.next() {
            out.removeAll(keepingCapacity: true)
            encoder.encode(chunk, into: &out)
            try sink(out)
        }
        try sink(encoder.finish())
    }

    /// The queue's envelope in the DSN module's terms (it cannot import the queue).
    func dsnEnvelope(_ envelope: QueueEnvelope) -> DSNEnvelope {
        DSNEnvelope(
            reversePath: envelope.reversePath, arrival: envelope.arrival,
            recipients: envelope.recipients.map {
                DSNRecipient($0.address, originalRecipient: $0.originalRecipient, notify: $0.notify)
            },
            messageSize: envelope.messageSize, envelopeID: envelope.envelopeID, returnContent: envelope.returnContent,
            isDoubleBounce: envelope.isDoubleBounce)
    }

    /// Each recipient's outcome. A failure already reported counts as pending, so it is never reported
    /// twice. Deliveries count as pending too: whether the next hop offered DSN (which decides a `relayed`
    /// report for NOTIFY=SUCCESS, RFC 3461 §6.2.2) is not in the transport's result yet.
    func outcomes(_ message: QueueMessage) -> [DSNOutcome] {
        let expiry = schedule.expiry(arrival: message.envelope.arrival, isBounce: message.envelope.isBounce)
        return message.state.recipients.map { recipient in
            switch recipient.status {
            case .pending, .delivered:
                return .pending
            case .permanentFailure(let code, let reply):
                guard !recipient.isReported else { return .pending }
                // A lifetime expiry is recorded as 4.4.7; the report says 5.4.7: it has failed (RFC 3463 §3.5).
                let status = code.statusClass == 4 ? EnhancedStatusCode(5, code.subject, code.detail) : code
                return .failed(Self.attempt(status, reply, remoteHost: recipient.remoteHost, date: recipient.lastAttempt))
            case .temporaryFailure(let code, let reply):
                return .delayed(
                    Self.attempt(code, reply, remoteHost: recipient.remoteHost, date: recipient.lastAttempt), willRetryUntil: expiry,
                    warned: message.state.isDelayWarned)
            }
        }
    }

    /// `Remote-MTA` is the host the transport recorded talking to, never a name read from the reply text
    /// (a remote server chooses its reply). The transport writes replies as `host: 550 5.1.1 text` (or
    /// `host[address]: ...`); that prefix, when it names the recorded host, is left out of the `smtp`
    /// diagnostic. Any other text stays whole.
    static func attempt(_ status: EnhancedStatusCode, _ reply: String, remoteHost: String?, date: MailTime?) -> DSNAttempt {
        guard let remoteHost else { return DSNAttempt(status: status, reply: reply.isEmpty ? nil : reply, date: date) }
        var text = Substring(reply)
        if text.hasPrefix(remoteHost), let colon = text.firstIndex(of: ":") {
            let between = text[text.index(text.startIndex, offsetBy: remoteHost.count)..<colon]
            let rest = text[text.index(after: colon)...]
            if between.isEmpty || (between.hasPrefix("[") && between.hasSuffix("]")), rest.first == " ",
                Self.startsWithReplyCode(rest.dropFirst())
            {
                text = rest.dropFirst()
            }
        }
        return DSNAttempt(status: status, remoteMTA: remoteHost, reply: text.isEmpty ? nil : String(text), date: date)
    }

    /// `250`, `550 ...` or `550-...`: three digits, then the end, a space or a hyphen.
    private static func startsWithReplyCode(_ text: Substring) -> Bool {
        let head = Array(text.utf8.prefix(4))
        guard head.count >= 3, head[0..<3].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return false
        }
        return head.count == 3 || head[3] == UInt8(ascii: " ") || head[3] == UInt8(ascii: "-")
    }
}
