// QueueDraft: a message being written into the queue. The body streams through a 64 KiB buffer into `D`
// records in the file tmp/ID; commit makes it durable and visible in one rename (see QueueStore's promise).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// A message on its way into the queue. Memory stays at one 64 KiB chunk however large the message.
/// Not thread-safe: one owner at a time. Call ``commit()`` or ``abort()``; dropping it aborts.
public final class QueueDraft {
    /// The id the message will have once committed.
    public let id: QueueID
    public let envelope: QueueEnvelope

    private let store: QueueStore
    private let path: String
    /// The draft file's lock; its descriptor is the one written. Released at commit or abort.
    private var lock: QueueMessageLock?
    private var pending: [UInt8] = []
    private var framed: [UInt8] = []
    private var checksum = CRC32()
    private var dataRecords = 0
    /// True once an appended byte was above 127 (recorded at commit, so delivery need not scan the body).
    private var hasEightBitOctets = false
    /// Bytes in the file so far.
    private var fileSize = 0
    /// True for a spare file being overwritten: whatever lies past what we wrote is cut off at commit.
    private let reused: Bool
    /// Body bytes appended so far.
    public private(set) var byteCount = 0
    /// Set by ``commit(logsStored:)``: the message as committed, for the queue manager (no read back).
    public private(set) var committed: QueueCommit?

    init(store: QueueStore, id: QueueID, envelope: QueueEnvelope, path: String, lock: QueueMessageLock, reused: Bool) throws(QueueError) {
        self.store = store
        self.reused = reused
        self.id = id
        self.envelope = envelope
        self.path = path
        self.lock = lock
        pending.reserveCapacity(QueueRecordFraming.dataChunkSize)
        try write(QueueMessageFile.encodeStart(envelope))
    }

    deinit { abort() }

    private func write(_ bytes: [UInt8]) throws(QueueError) {
        guard let lock else { preconditionFailure("write after commit or abort") }
        do {
            try QueueFiles.writeAll(lock.descriptor, bytes, path: path)
        } catch {
            abort()
            throw error
        }
        fileSize += bytes.count
    }

    /// Adds body bytes (as they will be sent: CRLF line endings, no dot-stuffing).
    public func append(_ bytes: UnsafeRawBufferPointer) throws(QueueError) {
        precondition(lock != nil, "append after commit or abort")
        var offset = 0
        while offset < bytes.count {
            let take = min(QueueRecordFraming.dataChunkSize - pending.count, bytes.count - offset)
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take])
            if !hasEightBitOctets && slice.contains(where: { $0 >= 0x80 }) { hasEightBitOctets = true }
            pending.append(contentsOf: slice)
            offset += take
            if pending.count == QueueRecordFraming.dataChunkSize { try flush() }
        }
    }

    /// Adds body bytes.
    public func append(_ bytes: [UInt8]) throws(QueueError) {
        let result: Result<Void, QueueError> = bytes.withUnsafeBytes { raw in
            Result { () throws(QueueError) in try append(raw) }
        }
        try result.get()
    }

    /// Writes the buffered bytes as one `D` record.
    private func flush() throws(QueueError) {
        guard !pending.isEmpty else { return }
        framed.removeAll(keepingCapacity: true)
        pending.withUnsafeBytes { raw in
            checksum.update(raw)
            QueueRecordFraming.append(type: QueueRecordFraming.RecordType.data, payload: raw, to: &framed)
        }
        byteCount += pending.count
        dataRecords += 1
        pending.removeAll(keepingCapacity: true)
        try write(framed)
    }

    /// Makes the message durable and visible, then returns its id. When this returns the caller may
    /// answer 250: the file (body and first state) is fsync'd, renamed into `messages/`, and `messages/`
    /// fsync'd. On any failure nothing is queued and the error is thrown (answer 451).
    /// `logsStored`: log `queue.stored`; false when the caller logs the acceptance itself, with the same
    /// fields (one line per event).
    @discardableResult
    public func commit(logsStored: Bool = true) throws(QueueError) -> QueueID {
        precondition(lock != nil, "commit after commit or abort")
        do throws(QueueError) {
            try flush()
            let trailer = QueueBodyFormat.Trailer(bodySize: byteCount, dataRecords: dataRecords, bodyChecksum: checksum.value)
            try write(QueueBodyFormat.encodeEnd(trailer))
            let bodyEnd = fileSize
            let state = QueueMessageState(recipientCount: envelope.recipients.count, dueAt: envelope.arrival)
            try write(QueueMessageFile.encodeState(state))
            guard let descriptor = lock?.descriptor else { throw QueueError.invalidRequest("draft aborted") }
            // Now that the body's end is known, the head says where it is. Nothing can see tmp/ID yet, so
            // the head is rewritten in place, and one fsync makes head, body and state durable together:
            // the body reaches the disk before any name in messages/ points at it.
            try QueueFiles.writeAll(
                descriptor, QueueMessageFile.encodeHead(bodyEnd: bodyEnd, hasEightBitOctets: hasEightBitOctets),
                at: QueueMessageFile.headOffset, path: path)
            if reused { _ = try QueueFiles.call("ftruncate", path) { ftruncate(descriptor, off_t(fileSize)) } }
            try QueueFiles.sync(descriptor, path: path)
            let scansBefore = store.scansStarted
            try store.publish(draftPath: path, id: id)
            var stored = envelope
            stored.hasEightBitOctets = hasEightBitOctets
            stored.messageSize = byteCount  // what a read takes from the end marker
            committed = QueueCommit(
                message: QueueMessage(id: id, location: .active, envelope: stored, state: state), scansBefore: scansBefore)
        } catch {
            abort()
            throw error
        }
        lock = nil
        if logsStored { store.logSink.log(LogRecord(.info, "queue.stored", [
            ("queue", id.rawValue), ("size", String(byteCount)), ("recipients", String(envelope.recipients.count)),
            ("from", envelope.reversePath?.description ?? "<>"),
        ])) }
        return id
    }

    /// Discards the draft; nothing is queued. Safe to call more than once.
    public func abort() {
        guard let lock else { return }
        // Still ours while locked and named by the path: remove it, then let the lock go.
        if lock.isNamed(by: path) { unlink(path) }
        self.lock = nil
    }
}
