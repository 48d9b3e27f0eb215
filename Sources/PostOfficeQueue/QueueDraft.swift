// QueueDraft: a message being written into the queue. The body streams through a 64 KiB buffer into `D`
// records in tmp/ID/body; commit makes it durable and visible in one rename (see QueueStore's promise).

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
    private let directory: String
    private let lock: QueueMessageLock
    private var body: Int32
    private var pending: [UInt8] = []
    private var framed: [UInt8] = []
    private var checksum = CRC32()
    private var dataRecords = 0
    /// True once an appended byte was above 127 (recorded at commit, so delivery need not scan the body).
    private var hasEightBitOctets = false
    /// Body bytes appended so far.
    public private(set) var byteCount = 0

    init(store: QueueStore, id: QueueID, envelope: QueueEnvelope, directory: String, lock: QueueMessageLock) throws(QueueError) {
        self.store = store
        self.id = id
        self.envelope = envelope
        self.directory = directory
        self.lock = lock
        body = -1
        let path = directory + "/body"
        body = try QueueFiles.open(path, O_WRONLY | O_CREAT | O_EXCL)
        pending.reserveCapacity(QueueRecordFraming.dataChunkSize)
        do {
            try QueueFiles.writeAll(body, QueueBodyFormat.encodeHead(envelope), path: path)
        } catch {
            abort()
            throw error
        }
    }

    deinit { abort() }

    /// Adds body bytes (as they will be sent: CRLF line endings, no dot-stuffing).
    public func append(_ bytes: UnsafeRawBufferPointer) throws(QueueError) {
        precondition(body >= 0, "append after commit or abort")
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
        do {
            try QueueFiles.writeAll(body, framed, path: directory + "/body")
        } catch {
            abort()
            throw error
        }
    }

    /// Makes the message durable and visible, then returns its id. When this returns the caller may
    /// answer 250: body and state are fsync'd, the message directory renamed into `messages/`, and
    /// `messages/` fsync'd. On any failure nothing is queued and the error is thrown (answer 451).
    @discardableResult
    public func commit() throws(QueueError) -> QueueID {
        precondition(body >= 0, "commit after commit or abort")
        do {
            try flush()
            let trailer = QueueBodyFormat.Trailer(bodySize: byteCount, dataRecords: dataRecords, bodyChecksum: checksum.value)
            try QueueFiles.writeAll(body, QueueBodyFormat.encodeEnd(trailer), path: directory + "/body")
            // The body reaches the disk before any name points at it (unlike a queue that fsyncs metadata first).
            try QueueFiles.sync(body, path: directory + "/body")
            let descriptor = body
            body = -1
            try QueueFiles.closeChecked(descriptor, path: directory + "/body")
            // Nothing can see tmp/ID yet, so the state is written in place (no state.new and rename), and
            // one fsync of the draft directory makes both names durable before the rename publishes them.
            let state = QueueMessageState(recipientCount: envelope.recipients.count, dueAt: envelope.arrival)
            try QueueFiles.createDurably(
                directory + "/state", bytes: QueueStateFormat.encode(state, bodyHasEightBitOctets: hasEightBitOctets))
            try QueueFiles.syncDirectory(directory)
            try store.publish(draftDirectory: directory, id: id)
        } catch {
            abort()
            throw error
        }
        store.logSink.log(LogRecord(.info, "queue.stored", [
            ("queue", id.rawValue), ("size", String(byteCount)), ("recipients", String(envelope.recipients.count)),
            ("from", envelope.reversePath?.description ?? "<>"),
        ]))
        return id
    }

    /// Discards the draft; nothing is queued. Safe to call more than once.
    public func abort() {
        if body >= 0 {
            close(body)
            body = -1
        }
        if FileSystem.fileExists(atPath: directory) { try? QueueFiles.removeTree(directory) }
    }
}
