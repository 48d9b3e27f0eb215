// DKIMSigningSink: signs a message we send on its way into another sink. The header block is held until
// its end (the From: domain picks the keys); a message to sign then goes into a MessageSpool while the
// signature streams over it, and at commit the DKIM-Signature fields and the spooled bytes go to the inner
// sink, so the durable copy (and the 250 after it) carries the signature. Unsigned mail passes straight on.

import PostOfficeCore
import PostOfficeDelivery

/// Puts DKIM-Signature fields on top of a message, then feeds another sink.
final class DKIMSigningSink: MessageSink, @unchecked Sendable {
    private let inner: any MessageSink
    private let signer: any OutgoingMessageSigner
    private let spoolDirectory: String
    private var held: [UInt8] = []
    private var scanned = 0
    private var state = State.holding

    private enum State {
        case holding
        case passing
        case signing(any OutgoingSignature, MessageSpool)
    }

    /// A header block larger than this is passed on unsigned (DKIMSigner keeps no more either).
    static let maximumHeldBytes = 256 * 1024

    init(wrapping inner: any MessageSink, signer: any OutgoingMessageSigner, spoolDirectory: String) {
        self.inner = inner
        self.signer = signer
        self.spoolDirectory = spoolDirectory
    }

    func append(_ bytes: [UInt8]) {
        switch state {
        case .passing:
            inner.append(bytes)
        case .signing(let signature, let spool):
            signature.update(bytes)
            spool.append(bytes)
        case .holding:
            held += bytes
            // Search only the new bytes (and the three before them) for the end of the header block.
            let from = scanned
            scanned = max(0, held.count - 3)
            if let bodyStart = Self.bodyStart(held, from: from) {
                decide(bodyStart: bodyStart)
            } else if held.count > Self.maximumHeldBytes {
                state = .passing
                inner.append(held)
                held = []
            }
        }
    }

    func commit() -> DeliveryOutcome {
        if case .holding = state { decide(bodyStart: held.count) }  // a message that is all headers
        guard case .signing(let signature, let spool) = state else { return inner.commit() }
        state = .passing
        let fields = signature.finish()
        if !fields.isEmpty { inner.append(fields) }
        do throws(DeliveryError) {
            try spool.replay { (chunk: [UInt8]) throws(DeliveryError) in inner.append(chunk) }
        } catch {
            inner.abort()
            return error.outcome
        }
        return inner.commit()
    }

    func abort() {
        held = []
        state = .passing
        inner.abort()
    }

    /// Asks the signer about the held header block, then starts spooling or passes everything on.
    private func decide(bodyStart: Int) {
        if let signature = signer.beginSignature(header: Array(held[..<bodyStart])) {
            let spool = MessageSpool(directory: spoolDirectory)
            spool.append(held)
            signature.update(Array(held[bodyStart...]))
            state = .signing(signature, spool)
        } else {
            state = .passing
            inner.append(held)
        }
        held = []
    }

    /// The offset just after the empty line that ends the header block, once it has been read.
    static func bodyStart(_ bytes: [UInt8], from start: Int = 0) -> Int? {
        if bytes.starts(with: [13, 10]) { return 2 }
        guard bytes.count >= 4, start <= bytes.count - 4 else { return nil }
        for index in start...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }
}
