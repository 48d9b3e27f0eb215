// QueueBodyReader: streams a queued body back out, one `D` record (≤ 64 KiB) at a time, checking each
// record's CRC and, at the end, the size, record count and whole-body CRC the end marker promised.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Reads a queued message's body in chunks. A chunk that fails validation moves the message to
/// `corrupt/` (logged) and throws ``QueueError/corrupt(_:file:_:)``. Not thread-safe.
public final class QueueBodyReader {
    public let id: QueueID
    /// The body size in bytes, as the end marker records it.
    public let size: Int

    private let store: QueueStore
    private let path: String
    private let descriptor: Int32
    private let layout: QueueBodyFormat.Layout
    private var offset: Int
    private var recordsRead = 0
    private var bytesRead = 0
    private var checksum = CRC32()
    private var finished = false

    init(store: QueueStore, id: QueueID, path: String, descriptor: Int32, layout: QueueBodyFormat.Layout) {
        self.store = store
        self.id = id
        self.path = path
        self.descriptor = descriptor
        self.layout = layout
        size = layout.trailer.bodySize
        offset = layout.dataStart
    }

    deinit { close(descriptor) }

    /// The next chunk of the body, or nil after the last one (once the whole body has been verified).
    public func next() throws(QueueError) -> [UInt8]? {
        guard !finished else { return nil }
        if recordsRead == layout.trailer.dataRecords {
            guard bytesRead == layout.trailer.bodySize, checksum.value == layout.trailer.bodyChecksum else {
                throw store.quarantine(id, file: "body", .inconsistent("body checksum"))
            }
            finished = true
            return nil
        }
        // A whole data record (at most one chunk) in one read.
        let expected = QueueRecordFraming.dataChunkSize + QueueRecordFraming.recordOverhead
        switch try QueueBodyFormat.readRecord(descriptor, at: offset, path: path, expected: expected) {
        case .failure(let error):
            throw store.quarantine(id, file: "body", error)
        case .success(let (record, next)):
            guard record.type == QueueRecordFraming.RecordType.data else {
                throw store.quarantine(id, file: "body", .unexpectedRecord(record.type))
            }
            offset = next
            recordsRead += 1
            bytesRead += record.payload.count
            checksum.update(record.payload)
            return record.payload
        }
    }

    /// The whole body in memory, for tests and small messages; delivery should stream with ``next()``.
    public func readAll() throws(QueueError) -> [UInt8] {
        var all: [UInt8] = []
        all.reserveCapacity(size)
        while let chunk = try next() { all.append(contentsOf: chunk) }
        return all
    }
}
