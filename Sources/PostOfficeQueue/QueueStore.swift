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
/// **Layout.** One directory per message, named by its ``QueueID``:
/// ```
/// queue_directory/
///   tmp/ID/        a draft being written (or a deleted message being removed)
///   messages/ID/   body   header, envelope, body records, end marker — written once, never changed
///                  state  held flag and per-recipient progress — replaced whole on every update
///   failed/ID/     every recipient final, some failed, no bounce sent yet: kept, listed, never dropped
///   corrupt/ID/    a message whose body or state failed validation (logged as queue.corrupt)
/// ```
/// A message moves between these by renaming its directory — one atomic step — so a crash never
/// leaves half of a message in one place and half in another.
///
/// **Commit promise** (the same as a Maildir delivery): body written and fsync'd, state written and
/// fsync'd, the message directory fsync'd, renamed from `tmp/` into `messages/`, `messages/` fsync'd;
/// only then does ``QueueDraft/commit()`` return and may the SMTP server answer 250
/// ([RFC 5321 §6.1](https://www.rfc-editor.org/rfc/rfc5321#section-6.1)).
///
/// **Updates** never touch the body: the state file is rewritten as `state.new`, fsync'd, renamed over
/// `state`, and the message directory fsync'd.
///
/// **Locking rule.** Every change to a message — state update, hold, release, requeue, move to `failed/`
/// or `corrupt/`, delete — happens under `flock(LOCK_EX)` on the message's directory, taken through
/// ``QueueMessageLock`` (which re-checks, once locked, that the path still names the locked directory).
/// So the server's delivery update and an operator's `delete` from the CLI in another process are
/// serialized, each reading the state the other left. Reads (``scan(verifyBodies:)``, ``load(_:)``,
/// ``openBody(_:)``) take no lock: the body is immutable and the state is replaced by rename, so a
/// reader sees a whole old or a whole new file. A draft holds the lock on its `tmp/` directory until
/// committed, so a sweep of `tmp/` removes only what a dead writer left.
public final class QueueStore: Sendable {
    /// The queue directory.
    public let path: String
    let clock: any MailClock
    let random: any RandomSource
    let logSink: any LogSink

    var temporaryPath: String { path + "/tmp" }
    var corruptPath: String { path + "/corrupt" }

    /// Opens (creating if needed, mode 0700) the queue at `path` and sweeps abandoned drafts from `tmp/`.
    public init(path: String, clock: any MailClock, random: any RandomSource, logSink: any LogSink) throws(QueueError) {
        self.path = path
        self.clock = clock
        self.random = random
        self.logSink = logSink
        for directory in [path, temporaryPath, directory(.active), directory(.failed), corruptPath] {
            do {
                try FileSystem.createDirectory(atPath: directory, mode: 0o700)
            } catch {
                throw .system(error)
            }
        }
        try sweepTemporaryFiles()
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
            let directory = temporaryPath + "/" + id.rawValue
            if mkdir(directory, 0o700) != 0 {
                if errno == EEXIST { continue }
                throw .system(SystemError("mkdir", errno: errno, detail: directory))
            }
            // A sweep in another process may remove the fresh directory before we lock it; then try again.
            guard let lock = try QueueMessageLock.acquire(directory), lock.isLinked else { continue }
            return try QueueDraft(store: self, id: id, envelope: envelope, directory: directory, lock: lock)
        }
    }

    /// Writes `state` into a message directory durably (the caller holds the message lock).
    func writeState(_ state: QueueMessageState, bodyHasEightBitOctets: Bool? = nil, in directory: String) throws(QueueError) {
        try QueueFiles.replaceDurably(
            directory: directory, name: "state", tempName: "state.new",
            bytes: QueueStateFormat.encode(state, bodyHasEightBitOctets: bodyHasEightBitOctets))
    }

    /// Renames a finished draft directory into `messages/` and fsyncs `messages/`.
    func publish(draftDirectory: String, id: QueueID) throws(QueueError) {
        let target = directory(.active) + "/" + id.rawValue
        try QueueFiles.renameWithoutReplacing(draftDirectory, target)
        try QueueFiles.syncDirectory(directory(.active))
    }

    // MARK: - Reading

    /// Where a message is now, if anywhere.
    func locate(_ id: QueueID) -> QueueMessage.Location? {
        for location in [QueueMessage.Location.active, .failed]
        where QueueFiles.isRealDirectory(directory(location) + "/" + id.rawValue) {
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
    /// `corrupt/` and logged (`queue.corrupt`), not returned; abandoned drafts in `tmp/` are removed.
    /// With `verifyBodies`, every body is read through and its checksums checked (slow: reads everything);
    /// otherwise a body's head and end marker are checked, which catches truncation and a wrong length.
    public func scan(verifyBodies: Bool = false) throws(QueueError) -> [QueueMessage] {
        try sweepTemporaryFiles()
        var messages: [QueueMessage] = []
        for location in [QueueMessage.Location.active, .failed] {
            for name in try QueueFiles.list(directory(location)).sorted() {
                guard let id = QueueID(name), QueueFiles.isRealDirectory(directory(location) + "/" + name) else {
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
        // A concurrent move between messages/ and failed/ can make the first look miss; look twice.
        for _ in 0..<2 {
            guard let location = locate(id) else { break }
            do {
                return try read(id, at: location)
            } catch {
                if case .notFound = error { continue }
                throw error
            }
        }
        throw .notFound(id)
    }

    /// Opens the body for streaming.
    public func openBody(_ id: QueueID) throws(QueueError) -> QueueBodyReader {
        guard let location = locate(id) else { throw .notFound(id) }
        let bodyPath = directory(location) + "/" + id.rawValue + "/body"
        let descriptor = try openExisting(bodyPath, id: id)
        let layout: Result<QueueBodyFormat.Layout, QueueRecordError>
        do {
            layout = try QueueBodyFormat.readLayout(descriptor, path: bodyPath)
        } catch {
            close(descriptor)
            throw error
        }
        switch layout {
        case .failure(let error):
            close(descriptor)
            throw quarantine(id, file: "body", error)
        case .success(let layout):
            return QueueBodyReader(store: self, id: id, path: bodyPath, descriptor: descriptor, layout: layout)
        }
    }

    private func openExisting(_ file: String, id: QueueID) throws(QueueError) -> Int32 {
        let descriptor = SystemCall.restarting { open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if descriptor < 0 {
            let code = errno
            // A missing file inside an existing message directory is damage, not absence.
            if code == ENOENT {
                let parent = String(file[..<file.lastIndex(of: "/")!])
                if FileSystem.isDirectory(atPath: parent) { throw quarantine(id, file: String(file[file.index(after: file.lastIndex(of: "/")!)...]), .truncated) }
                throw .notFound(id)
            }
            throw .system(SystemError("open", errno: code, detail: file))
        }
        return descriptor
    }

    /// Reads envelope and state at a known location, checking that they agree.
    func read(_ id: QueueID, at location: QueueMessage.Location) throws(QueueError) -> QueueMessage {
        let base = directory(location) + "/" + id.rawValue
        let bodyPath = base + "/body"
        let descriptor = try openExisting(bodyPath, id: id)
        let layoutResult: Result<QueueBodyFormat.Layout, QueueRecordError>
        do {
            layoutResult = try QueueBodyFormat.readLayout(descriptor, path: bodyPath)
        } catch {
            close(descriptor)
            throw error
        }
        close(descriptor)
        let layout: QueueBodyFormat.Layout
        switch layoutResult {
        case .failure(let error): throw quarantine(id, file: "body", error)
        case .success(let value): layout = value
        }
        let stateDescriptor = try openExisting(base + "/state", id: id)
        close(stateDescriptor)
        let stateBytes: [UInt8]?
        do {
            stateBytes = try QueueFiles.readFile(base + "/state", limit: QueueStateFormat.sizeLimit)
        } catch {
            // Delivered and removed (the directory renamed away whole) since the open above: gone, not damaged.
            if case .system(let system) = error, system.errno == ENOENT, !FileSystem.isDirectory(atPath: base) {
                throw .notFound(id)
            }
            throw error
        }
        guard let bytes = stateBytes else {
            throw quarantine(id, file: "state", .payloadTooLong(QueueStateFormat.sizeLimit))
        }
        let state: QueueMessageState
        var envelope = layout.envelope
        do {
            (state, envelope.hasEightBitOctets) = try QueueStateFormat.decodeWithBodyFlag(bytes)
        } catch {
            throw quarantine(id, file: "state", error)
        }
        guard state.recipients.count == layout.envelope.recipients.count else {
            throw quarantine(id, file: "state", .inconsistent("recipient count differs from the envelope"))
        }
        return QueueMessage(id: id, location: location, envelope: envelope, state: state)
    }

    // MARK: - Quarantine and sweeping

    /// Moves a message whose `file` failed validation to `corrupt/`, logs it, and returns the error to
    /// throw. If the move itself fails the message stays where it is (still logged): never dropped.
    func quarantine(_ id: QueueID, file: String, _ error: QueueRecordError) -> QueueError {
        var fields: [(String, String)] = [("queue", id.rawValue), ("file", file), ("reason", error.description)]
        do {
            if let location = locate(id) {
                let source = directory(location) + "/" + id.rawValue
                if let lock = try QueueMessageLock.acquire(source) {
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

    /// Something in `messages/` or `failed/` that is not a message directory: moved aside, logged.
    private func quarantineStray(_ entry: String, name: String) {
        // Removed since it was listed (a delivered message renamed away): nothing to move aside.
        var status = stat()
        guard lstat(entry, &status) == 0 else { return }
        var fields: [(String, String)] = [("entry", entry), ("reason", "not a message directory")]
        do {
            fields.append(("moved_to", try moveAside(entry, name: name)))
        } catch {
            fields.append(("error", error.description))
        }
        logSink.log(LogRecord(.error, "queue.corrupt", fields))
    }

    /// Renames `source` into `corrupt/` under a free name and fsyncs `corrupt/`. Returns the new path.
    private func moveAside(_ source: String, name: String) throws(QueueError) -> String {
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

    /// Removes what crashed or aborted writers left in `tmp/`: every entry whose lock nobody holds.
    /// A live draft holds its lock, so this is safe while the server and the CLI both run.
    public func sweepTemporaryFiles() throws(QueueError) {
        for name in try QueueFiles.list(temporaryPath) {
            let entry = temporaryPath + "/" + name
            if QueueFiles.isRealDirectory(entry) {
                guard let lock = QueueMessageLock.tryAcquire(entry) else { continue }
                try QueueFiles.removeTree(entry)
                withExtendedLifetime(lock) {}
            } else {
                try QueueFiles.removeTree(entry)
            }
            logSink.log(LogRecord(.warning, "queue.tmp_removed", [("entry", name)]))
        }
    }
}
