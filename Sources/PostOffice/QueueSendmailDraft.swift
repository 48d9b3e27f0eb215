// QueueSendmailDraft: the runtime's SendmailQueueDraft — the remote recipients of a `postoffice sendmail`
// message go into the outbound queue through a QueueMessageSink (our Received: header first, the queue's
// fsync promise at commit), with the input's LF line ends turned into the CRLF the queue keeps.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue

/// One sendmail message on its way into the outbound queue.
final class QueueSendmailDraft: SendmailQueueDraft {
    private let sink: QueueMessageSink
    private var converter = CRLFConverter()

    /// `onCommit`: told once the message is durable, with the message as committed (a running server then
    /// tries it at once; the sendmail command, which exits right away, leaves it to the server's next queue run).
    init(
        store: QueueStore, sender: MailAddress?, recipients: [MailAddress], trace: TraceInfo, date: MailTime,
        logSink: any LogSink, onCommit: @escaping @Sendable (QueueCommit?) -> Void
    ) {
        let envelope = QueueEnvelope(
            reversePath: sender, arrival: date, recipients: recipients.map { QueueRecipient($0) }, isLocalSender: true)
        sink = QueueMessageSink(
            store: store, envelope: envelope, trace: trace, date: date, sessionID: trace.sessionID, logSink: logSink,
            onCommit: onCommit)
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError) {
        sink.append(converter.convert(bytes))
    }

    func commit() throws(DeliveryError) {
        let tail = converter.finish()
        if !tail.isEmpty { sink.append(tail) }
        switch sink.commit() {
        case .delivered: return
        case .temporaryFailure(let code, let text), .permanentFailure(let code, let text):
            throw DeliveryError(code, text)
        }
    }

    func abort() { sink.abort() }
}

/// LF → CRLF as bytes stream by; an existing CRLF is kept, a CR at a chunk's end waits for the next chunk.
struct CRLFConverter {
    private var previous: UInt8 = 0

    mutating func convert(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count + input.count / 32 + 2)
        for byte in input {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            out.append(byte)
            previous = byte
        }
        return out
    }

    /// The message must end with a line end: add CRLF after a last line without one.
    mutating func finish() -> [UInt8] {
        defer { previous = 0x0A }
        return previous == 0x0A || previous == 0 ? [] : (previous == 0x0D ? [0x0A] : [0x0D, 0x0A])
    }
}
