// QueueStore: the outbound queue on disk under `queue_directory` — commit with the Maildir promise, scan,
// load, per-recipient updates, hold/release/requeue/delete, failed/ and corrupt/. Imports only Core.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// The queue directory.
///
/// **Layout.** One file per message, named by its ``QueueID`` (see ``QueueMessageFile``):
/// ```
/// queue_directory/
///   tmp/ID           a draft being written (or a delivered or deleted message being removed)
///   messages/ID      header, envelope, body records, end marker — written once, never changed — then
///                    the held flag and per-recipient progress, one state record appended per update
///   failed/ID        every recipient final, some failed, no bounce sent yet: kept, listed, never dropped
///   corrupt/ID       a message whose body or state failed validation (logged as queue.corrupt)
///   spare/ID         a delivered message's file, kept for a later draft to overwrite (``QueueSpareFiles``)
/// ```
/// A message moves between these by renaming its file — one atomic step. A queue written before issue 14
/// (a directory per message, with `body` and `state` files) is converted when the store is opened: each
/// old message is copied into a new file under a new id, published, and only then the old directory is
/// removed, so a crash in between leaves both (delivered twice at worst, never lost).
///
/// **Commit promise** (the same as a Maildir delivery): envelope, body and first state written into
/// `tmp/ID` and fsync'd, renamed into `messages/`, `messages/` fsync'd; only then does
/// ``QueueDraft/commit()`` return and may the SMTP server answer 250
/// ([RFC 5321 §6.1](https://www.rfc-editor.org/rfc/rfc5321#section-6.1)). Two fsyncs and one new inode.
///
/// **Updates** never touch the body: a new state record is appended and the file fsync'd (its name does
/// not change, so no directory fsync). A reader takes the last whole state record whose CRC checks, so an
/// append torn by a crash leaves the previous state in force; the next update cuts the torn bytes off
/// before appending; once the appended states pass 64 KiB the file is rewritten with the last state only
/// (copied in `tmp/`, fsync'd, renamed over the name, the directory fsync'd). A message whose recipients are all delivered is removed without a last state: it is
/// renamed into `spare/` (or, when that holds enough, into `tmp/` and unlinked), with no fsync, because a
/// crash that undoes the removal only brings back the state before the attempt — a duplicate delivery, never
/// a loss (issue 14). A spare is overwritten by a later draft (renamed into `tmp/` first) only once an fsync
/// of `messages/` that started after its removal has returned: no crash can bring its old name back then.
/// Reusing files instead of creating and unlinking one per message keeps ext4 without a journal from
/// scanning past every inode freed in the last 30 s on each create (`recently_deleted`), which took up to a
/// quarter of the server's CPU in a relay benchmark.
///
/// **Locking rule.** Every change to a message — state update, hold, release, requeue, move to `failed/`
/// or `corrupt/`, delete — happens under `flock(LOCK_EX)` on the message's file, taken through
/// ``QueueMessageLock`` (which re-checks, once locked, that the path still names the locked file).
/// So the server's delivery update and an operator's `delete` from the CLI in another process are
/// serialized, each reading the state the other left. Reads (``scan(verifyBodies:)``, ``load(_:)``,
/// ``openBody(_:)``) take no lock: the body is immutable and a state record is complete or ignored, so a
/// reader sees a whole old or a whole new state; a load checks after reading that the name still names the
/// file it read (a delivered message's file may be reused), and looks again if not. A draft holds the lock on its `tmp/` file until
/// committed, so a sweep of `tmp/` removes only what a dead writer left.
public final class QueueStore: Sendable {
    /// The queue directory.
    public let path: String
    let clock: any MailClock
    let random: any RandomSource
    let logSink: any LogSink

    /// Delivered messages' files kept for reuse (see ``QueueSpareFiles``).
    let spares = QueueSpareFiles()

    /// How many ``scan(verifyBodies:)`` calls have started (see ``QueueCommit/scansBefore``).
    public var scansStarted: Int { scanCount.value }
    private let scanCount = ScanCount()

    /// A counter behind a lock (the store is shared by threads).
    private final class ScanCount: @unchecked Sendable {
        private let lock = Lock()
        private var count = 0
        var value: Int { lock.withLock { count } }
        func increment() { lock.withLock { count += 1 } }
    }

    var temporaryPath: String { path + "/tmp" }
    var sparePath: String { path + "/spare" }
    var corruptPath: String { path + "/corrupt" }

    /// Opens (creating if needed, mode 0700) the queue at `path`, sweeps abandoned drafts from `tmp/` and
    /// converts messages queued in the layout before issue 14 (see ``convertOldLayout()``).
    public init(path: String, clock: any MailClock, random: any RandomSource, logSink: any LogSink) throws(QueueError) {
        self.path = path
        self.clock = clock
        self.random = random
        self.logSink = logSink
        for directory in [path, temporaryPath, directory(.active), directory(.failed), corruptPath, sparePath] {
            do {
                try FileSystem.createDirectory(atPath: directory, mode: 0o700)
            } catch {
                throw .system(error)
            }
        }
        try sweepTemporaryFiles()
        removeSpareFiles()
        try convertOldLayout()
    }

    /// Empties `spare/` of files an earlier run left (this process only reuses the ones it put there).
    /// Another process's spare removed here is missed by its next draft, which then creates a new file.
    private func removeSpareFiles() {
        for name in (try? QueueFiles.list(sparePath)) ?? [] { try? QueueFiles.removeTree(sparePath + "/" + name) }
    }

    func directory(_ location: QueueMessage.Location) -> String {
        switch location {
        case .active: path + "/messages"
        case .failed: path + "/failed"
        }
    }

    // MARK: - Writing

    /// Starts a new message. Stream its body with ``QueueDraft/append(_:)-([UInt8])`` and finish with
    /// ``QueueDraft/commit()``.
    public func begin(_ envelope: QueueEnvelope) throws(QueueError) -> QueueDraft {
        while true {
            let id = QueueID.generate(clock: clock, random: random)
            let file = temporaryPath + "/" + id.rawValue
            if let lock = reuseSpare(as: file) {
                return try QueueDraft(store: self, id: id, envelope: envelope, path: file, lock: lock, reused: true)
            }
            let (_, created) = try createLocked(file)
            guard let lock = created else { continue }
            return try QueueDraft(store: self, id: id, envelope: envelope, path: file, lock: lock, reused: false)
        }
    }

    /// Renames a spare file (see ``QueueSpareFiles``) to `file` in `tmp/` and locks it, for a draft to
    /// overwrite from the start (its old bytes stay until overwritten or cut off at commit; nothing reads
    /// `tmp/`). nil when no spare is ready or this one failed (it is removed): the caller creates a file.
    private func reuseSpare(as file: String) -> QueueMessageLock? {
        guard let name = spares.take() else { return nil }
        let spare = sparePath + "/" + name
        guard (try? QueueFiles.renameWithoutReplacing(spare, file)) != nil else {
            unlink(spare)  // gone (another process emptied spare/) or unusable
            return nil
        }
        let descriptor = SystemCall.restarting { open(file, O_RDWR | O_NOFOLLOW | O_CLOEXEC) }
        guard descriptor >= 0 else {
            unlink(file)
            return nil
        }
        let lock = QueueMessageLock(descriptor: descriptor)
        var status = stat()
        // Not blocking: a holder would be an old waiter on the delivered message, about to find it gone.
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG,
            SystemCall.restarting({ flock(descriptor, LOCK_EX | LOCK_NB) }) == 0, lock.isNamed(by: file)
        else {
            if lock.isNamed(by: file) { unlink(file) }
            return nil
        }
        return lock
    }

    /// Creates `file` (which must not exist) and locks it. nil lock: the name was taken, or a sweep in
    /// another process removed the fresh file before we locked it; the caller tries another name.
    func createLocked(_ file: String) throws(QueueError) -> (String, QueueMessageLock?) {
        let descriptor = SystemCall.restarting { open(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        if descriptor < 0 {
            if errno == EEXIST { return (file, nil) }
            throw .system(SystemError("open", errno: errno, detail: file))
        }
        let lock = QueueMessageLock(descriptor: descriptor)
        _ = try QueueFiles.call("flock", file) { flock(descriptor, LOCK_EX) }
        return (file, lock.isNamed(by: file) ? lock : nil)
    }

    /// Renames a finished draft file into `messages/` and fsyncs `messages/`.
    func publish(draftPath: String, id: QueueID) throws(QueueError) {
        let target = directory(.active) + "/" + id.rawValue
        try QueueFiles.renameWithoutReplacing(draftPath, target)
        let sync = spares.syncStarting()
        try QueueFiles.syncDirectory(directory(.active))
        spares.syncFinished(sync)
    }

    // MARK: - Reading

    /// Where a message is now, if anywhere.
    func locate(_ id: QueueID) -> QueueMessage.Location? {
        for location in [QueueMessage.Location.active, .failed]
        where QueueFiles.isRegularFile(directory(location) + "/" + id.rawValue) {
            return location
        }
        return nil
    }

    /// The ids in the active queue (`messages/`), read from the directory alone: cheap, and a message
    /// listed may be gone by the time it is loaded (``load(_:)`` then throws `notFound`).
    public func activeIDs() throws(QueueError) -> [QueueID] {
        try QueueFiles.list(directory(.active)).compactMap { QueueID($0) }
    }

    /// Every queued message, active and failed, sorted by id. Files that fail validation are moved to
    /// `corrupt/` and logged (`queue.corrupt`), not returned; abandoned drafts in `tmp/` are removed; an
    /// old-layout message directory (restored from a backup) is converted, and listed by the next scan.
    /// With `verifyBodies`, every body is read through and its checksums checked (slow: reads everything);
    /// otherwise a body's head and end marker are checked, which catches truncation and a wrong length.
    public func scan(verifyBodies: Bool = false) throws(QueueError) -> [QueueMessage] {
        scanCount.increment()
        try sweepTemporaryFiles()
        var messages: [QueueMessage] = []
        for location in [QueueMessage.Location.active, .failed] {
            for name in try QueueFiles.list(directory(location)).sorted() {
                // An old-layout message restored from a backup while the server runs: converted (listed next time).
                if let id = QueueID(name), QueueFiles.isRealDirectory(directory(location) + "/" + name) {
                    try convertOldMessage(id, at: location)
                    continue
                }
                guard let id = QueueID(name), QueueFiles.isRegularFile(directory(location) + "/" + name) else {
                    quarantineStray(directory(location) + "/" + name, name: name)
                    continue
                }
                do {
                    let message = try read(id, at: location)
                    if verifyBodies {
                        let reader = try openBody(id)
                        while try reader.next() != nil {}
                    }
                    messages.append(message)
                } catch {
                    switch error {
                    case .corrupt, .notFound: continue  // moved aside and logged, or gone meanwhile
                    default: throw error
                    }
                }
            }
        }
        return messages.sorted { $0.id < $1.id }
    }

    /// One message's envelope and state. Throws ``QueueError/notFound(_:)`` or, after moving it to
    /// `corrupt/`, ``QueueError/corrupt(_:file:_:)``.
    public func load(_ id: QueueID) throws(QueueError) -> QueueMessage {
        // A second look when the name moved off the file while it was read (a compaction renamed a new
        // file over it, or it was delivered): the name's new file, or notFound.
        for attempt in 0..<3 {
            guard let (descriptor, location, size) = try openMessage(id) else { throw .notFound(id) }
            defer { close(descriptor) }
            do {
                return try read(id, at: location, descriptor: descriptor, heldLock: nil, size: size).message
            } catch {
                if case .notFound = error, attempt < 2 { continue }
                throw error
            }
        }
        throw .notFound(id)
    }

    /// Opens message `id` where it is (`messages/`, else `failed/`) with its size: the open itself is the
    /// look-up (no stat per directory first) and one fstat serves the whole read. nil when it is in neither.
    private func openMessage(_ id: QueueID) throws(QueueError) -> (descriptor: Int32, location: QueueMessage.Location, size: Int)? {
        // A concurrent move between messages/ and failed/ can make the first look miss; look twice.
        for _ in 0..<2 {
            for location in [QueueMessage.Location.active, .failed] {
                let file = path(of: id, at: location)
                let descriptor = SystemCall.restarting { open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
                if descriptor < 0 {
                    let code = errno
                    // Not here, or a symbolic link (never a queue file; the old look-up skipped it too).
                    if code == ENOENT || code == ELOOP { continue }
                    throw .system(SystemError("open", errno: code, detail: file))
                }
                var status = stat()
                guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
                    close(descriptor)
                    continue
                }
                return (descriptor, location, Int(status.st_size))
            }
        }
        return nil
    }

    /// Opens the body for streaming.
    public func openBody(_ id: QueueID) throws(QueueError) -> QueueBodyReader {
        guard let (descriptor, location, size) = try openMessage(id) else { throw .notFound(id) }
        let file = path(of: id, at: location)
        let layout: Result<QueueMessageFile.Layout, QueueRecordError>
        do {
            let window = try QueueFiles.read(descriptor, count: min(size, QueueMessageFile.windowSize), at: 0, path: file)
            layout = try QueueMessageFile.readLayout(descriptor, path: file, size: size, window: window)
        } catch {
            close(descriptor)
            throw error
        }
        switch layout {
        case .failure(let error):
            close(descriptor)
            throw quarantine(id, file: "body", error)
        case .success(let layout):
            return QueueBodyReader(store: self, id: id, path: file, descriptor: descriptor, layout: layout.body)
        }
    }

    /// The path of message `id` at `location`.
    func path(of id: QueueID, at location: QueueMessage.Location) -> String {
        directory(location) + "/" + id.rawValue
    }

    private func openExisting(_ file: String, id: QueueID) throws(QueueError) -> Int32 {
        let descriptor = SystemCall.restarting { open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if descriptor < 0 {
            let code = errno
            if code == ENOENT { throw .notFound(id) }
            throw .system(SystemError("open", errno: code, detail: file))
        }
        return descriptor
    }

    /// Reads envelope and state at a known location, checking that they agree.
    func read(_ id: QueueID, at location: QueueMessage.Location) throws(QueueError) -> QueueMessage {
        let file = path(of: id, at: location)
        // As in load(_:): a name that moved off the file while it was read is looked at again.
        for attempt in 0..<3 {
            let descriptor = try openExisting(file, id: id)
            defer { close(descriptor) }
            do {
                return try read(id, at: location, descriptor: descriptor, heldLock: nil).message
            } catch {
                if case .notFound = error, attempt < 2 { continue }
                throw error
            }
        }
        throw .notFound(id)
    }

    /// Reads envelope and state from an open message file; also returns where the next state goes.
    /// `heldLock`: the caller's lock on the file, if it holds it (a quarantine then reuses it).
    func read(
        _ id: QueueID, at location: QueueMessage.Location, descriptor: Int32, heldLock: QueueMessageLock?,
        size known: Int? = nil
    ) throws(QueueError) -> (message: QueueMessage, bodyEnd: Int, stateEnd: Int) {
        let file = path(of: id, at: location)
        let size: Int
        if let known { size = known } else { size = try QueueFiles.size(descriptor, path: file) }
        let window = try QueueFiles.read(descriptor, count: min(size, QueueMessageFile.windowSize), at: 0, path: file)
        // Without the lock the message may have been delivered meanwhile and its file reused by a draft
        // (spare/, see QueueSpareFiles): what was read counts only if the name still names the file after it.
        func gone() -> Bool { heldLock == nil && !QueueFiles.names(file, descriptor: descriptor) }
        let layout: QueueMessageFile.Layout
        switch try QueueMessageFile.readLayout(descriptor, path: file, size: size, window: window) {
        case .failure(let error):
            if gone() { throw .notFound(id) }
            throw quarantine(id, file: "body", error, heldLock: heldLock)
        case .success(let value): layout = value
        }
        let state: QueueMessageState
        let stateEnd: Int
        switch try QueueMessageFile.readState(descriptor, from: layout.bodyEnd, path: file, size: size, window: window) {
        case .failure(let error):
            if gone() { throw .notFound(id) }
            throw quarantine(id, file: "state", error, heldLock: heldLock)
        case .success(let value): (state, stateEnd) = value
        }
        if gone() { throw .notFound(id) }
        guard state.recipients.count == layout.body.envelope.recipients.count else {
            throw quarantine(id, file: "state", .inconsistent("recipient count differs from the envelope"), heldLock: heldLock)
        }
        return (QueueMessage(id: id, location: location, envelope: layout.body.envelope, state: state), layout.bodyEnd, stateEnd)
    }

    // MARK: - Quarantine and sweeping

    /// Moves a message whose `file` (its body part or its state part) failed validation to `corrupt/`,
    /// logs it, and returns the error to throw. If the move itself fails the message stays where it is
    /// (still logged): never dropped. `heldLock`: the caller's lock on the message, if it holds it.
    func quarantine(_ id: QueueID, file: String, _ error: QueueRecordError, heldLock: QueueMessageLock? = nil) -> QueueError {
        var fields: [(String, String)] = [("queue", id.rawValue), ("file", file), ("reason", error.description)]
        do {
            if let location = locate(id) {
                let source = path(of: id, at: location)
                var lock = heldLock
                if lock == nil { lock = try QueueMessageLock.acquire(source) }
                if let lock {
                    let target = try moveAside(source, name: id.rawValue)
                    withExtendedLifetime(lock) {}
                    fields.append(("moved_to", target))
                }
                try QueueFiles.syncDirectory(directory(location))
            }
        } catch {
            fields.append(("error", error.description))
        }
        logSink.log(LogRecord(.error, "queue.corrupt", fields))
        return .corrupt(id, file: file, error)
    }

    /// Something in `messages/` or `failed/` that is not a message file: moved aside, logged.
    func quarantineStray(_ entry: String, name: String) {
        // Removed since it was listed (a delivered message renamed away): nothing to move aside.
        var status = stat()
        guard lstat(entry, &status) == 0 else { return }
        var fields: [(String, String)] = [("entry", entry), ("reason", "not a message file")]
        do {
            fields.append(("moved_to", try moveAside(entry, name: name)))
        } catch {
            fields.append(("error", error.description))
        }
        logSink.log(LogRecord(.error, "queue.corrupt", fields))
    }

    /// Renames `source` into `corrupt/` under a free name and fsyncs `corrupt/`. Returns the new path.
    func moveAside(_ source: String, name: String) throws(QueueError) -> String {
        var attempt = 0
        while true {
            let target = corruptPath + "/" + (attempt == 0 ? name : "\(name).\(attempt)")
            do {
                try QueueFiles.renameWithoutReplacing(source, target)
                try QueueFiles.syncDirectory(corruptPath)
                return target
            } catch {
                guard case .system(let e) = error, e.errno == EEXIST || e.errno == ENOTEMPTY, attempt < 1000 else { throw error }
                attempt += 1
            }
        }
    }

    /// Removes what crashed or aborted writers left in `tmp/`: every entry whose lock nobody holds (a
    /// draft file, a message being removed, or a directory from the layout before issue 14).
    /// A live draft holds its lock, so this is safe while the server and the CLI both run.
    public func sweepTemporaryFiles() throws(QueueError) {
        for name in try QueueFiles.list(temporaryPath) {
            let entry = temporaryPath + "/" + name
            guard let lock = QueueMessageLock.tryAcquire(entry) else {
                // Held by a live writer, or gone since it was listed; a symbolic link (never followed) goes.
                var status = stat()
                if lstat(entry, &status) == 0 && (status.st_mode & S_IFMT) == S_IFLNK {
                    try QueueFiles.removeTree(entry)
                    logSink.log(LogRecord(.warning, "queue.tmp_removed", [("entry", name)]))
                }
                continue
            }
            try QueueFiles.removeTree(entry)
            withExtendedLifetime(lock) {}
            logSink.log(LogRecord(.warning, "queue.tmp_removed", [("entry", name)]))
        }
    }
}
