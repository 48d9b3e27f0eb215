// SuccessReportSink: wraps the Maildir sink of a message whose local recipients asked for NOTIFY=SUCCESS on
// a server without the outbound queue: it keeps the start of the message (the header section, at most
// 64 KiB) and, once the delivery is durable, has LocalReportSender send the `delivered` report.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue

/// A local delivery followed by its `delivered` report, without the queue.
final class SuccessReportSink: MessageSink, @unchecked Sendable {
    private let inner: any MessageSink
    private let envelope: QueueEnvelope
    private let queueID: String
    private let sender: LocalReportSender
    private var header: [UInt8] = []
    private var headerIsComplete = false
    /// The most of the message kept for the report's text/rfc822-headers part.
    static let maximumHeaderBytes = 64 * 1024

    init(wrapping inner: any MessageSink, envelope: QueueEnvelope, queueID: String, sender: LocalReportSender) {
        self.inner = inner
        self.envelope = envelope
        self.queueID = queueID
        self.sender = sender
    }

    func append(_ bytes: [UInt8]) {
        if !headerIsComplete {
            let start = max(0, header.count - 3)
            header += bytes.prefix(Self.maximumHeaderBytes - header.count)
            headerIsComplete = header.count >= Self.maximumHeaderBytes || Self.hasEmptyLine(header[start...])
        }
        inner.append(bytes)
    }

    func commit() -> DeliveryOutcome {
        let outcome = inner.commit()
        if case .delivered = outcome { sender.sendDelivered(envelope, header: header, queueID: queueID) }
        return outcome
    }

    func abort() { inner.abort() }

    /// True when `bytes` hold CRLF CRLF (or LF LF): the header section has ended.
    private static func hasEmptyLine(_ bytes: ArraySlice<UInt8>) -> Bool {
        var previous: UInt8 = 0
        for byte in bytes where byte != 0x0D {
            if byte == 0x0A, previous == 0x0A { return true }
            previous = byte
        }
        return false
    }
}
