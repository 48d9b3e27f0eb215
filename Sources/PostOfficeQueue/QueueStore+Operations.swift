// QueueStore+Operations: the changes the queue manager and the CLI make to a queued message — record an
// attempt, hold, release, requeue, delete — each under the message lock, each a durable state append.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

extension QueueStore {
    /// Records one delivery attempt: `results` maps recipient indexes (into the envelope's recipients)
    /// to what happened. Recipients not mentioned keep their state. Returns the message afterwards:
    /// when every recipient is final it has left the active queue — removed if all were delivered,
    /// moved to `failed/` (location ``QueueMessage/Location/failed``) if any failed, until its failure
    /// report is queued ([RFC 3464](https://www.rfc-editor.org/rfc/rfc3464)) and the queue manager deletes it.
    /// `remoteHost`: the server the attempt talked to (nil: none), kept per recipient for `Remote-MTA`.
    /// `logsRemoval`: log `queue.done` when the message goes; false when the caller's own line about the
    /// attempt says so (one line per event).
    @discardableResult
    public func record(
        _ id: QueueID, results: [Int: QueueAttemptResult], remoteHost: String? = nil, logsRemoval: Bool = true
    ) throws(QueueError) -> QueueMessage {
        let now = clock.now()
        return try update(id, allowFailed: false, logsRemoval: logsRemoval) { (state: inout QueueMessageState) throws(QueueError) in
            for (index, result) in results {
                guard state.recipients.indices.contains(index) else {
                    throw .invalidRequest("recipient index \(index) out of range for \(id)")
                }
                var recipient = state.recipients[index]
                guard !recipient.status.isFinal else { continue }  // a late duplicate report changes nothing
                recipient.attempts += 1
                recipient.lastAttempt = now
                recipient.remoteHost = remoteHost
                switch result {
                case .delivered(let reply):
                    recipient.status = .delivered(reply)
                case .temporaryFailure(let code, let reply, let next):
                    recipient.status = .temporaryFailure(code, reply)
                    recipient.nextAttempt = next
                case .permanentFailure(let code, let reply):
                    recipient.status = .permanentFailure(code, reply)
                }
                state.recipients[index] = recipient
            }
        }
    }

    /// Records that reports went out (or were not wanted): the permanently failed recipients at `recipients`
    /// become ``QueueRecipientState/isReported``, and with `delayWarned` the message is marked as warned.
    /// Works in the active queue and in `failed/` (where a message waits for its failure report).
    @discardableResult
    public func markReported(_ id: QueueID, recipients: [Int], delayWarned: Bool = false) throws(QueueError) -> QueueMessage {
        try update(id, allowFailed: true) { (state: inout QueueMessageState) throws(QueueError) in
            for index in recipients {
                guard state.recipients.indices.contains(index) else {
                    throw .invalidRequest("recipient index \(index) out of range for \(id)")
                }
                state.recipients[index].isReported = true
            }
            if delayWarned { state.isDelayWarned = true }
        }
    }

    /// Holds a message: kept, listed, not attempted until ``release(_:)``.
    @discardableResult
    public func hold(_ id: QueueID) throws(QueueError) -> QueueMessage {
        try update(id, allowFailed: true) { (state: inout QueueMessageState) throws(QueueError) in state.isHeld = true }
    }

    /// Releases a held message.
    @discardableResult
    public func release(_ id: QueueID) throws(QueueError) -> QueueMessage {
        try update(id, allowFailed: true) { (state: inout QueueMessageState) throws(QueueError) in state.isHeld = false }
    }

    /// Makes every recipient still to be tried due now. A message in `failed/` goes back to the active
    /// queue with its failed recipients pending again (an operator's "try once more").
    @discardableResult
    public func requeue(_ id: QueueID) throws(QueueError) -> QueueMessage {
        let now = clock.now()
        return try update(id, allowFailed: true, reviveFailed: true) { (state: inout QueueMessageState) throws(QueueError) in
            for index in state.recipients.indices {
                if case .permanentFailure = state.recipients[index].status { state.recipients[index].status = .pending }
                if !state.recipients[index].status.isFinal { state.recipients[index].nextAttempt = now }
            }
        }
    }

    /// Makes an active message's waiting recipients due now, and nothing else: final results (delivered,
    /// failed for good) stay as they are. What a flush or ETRN does; ``requeue(_:)`` also revives failures.
    @discardableResult
    public func makeDue(_ id: QueueID) throws(QueueError) -> QueueMessage {
        let now = clock.now()
        return try update(id, allowFailed: false) { (state: inout QueueMessageState) throws(QueueError) in
            for index in state.recipients.indices where !state.recipients[index].status.isFinal {
                state.recipients[index].nextAttempt = now
            }
        }
    }

    /// Removes a message (active or failed) for good. Under the message lock, so it cannot interleave with
    /// a delivery update: the file is first renamed into `tmp/` (gone from the queue in one step, made
    /// durable by fsyncing its old parent), then unlinked.
    public func delete(_ id: QueueID) throws(QueueError) {
        guard let (location, lock) = try lockMessage(id) else { throw .notFound(id) }
        try remove(id, from: location)
        withExtendedLifetime(lock) {}
        logSink.log(LogRecord(.info, "queue.deleted", [("queue", id.rawValue), ("location", location.rawValue)]))
    }

    /// Appends `state` to message `id` under its lock, as an update would, without filing the message
    /// anywhere (what a crash between an update and its move leaves; for tests).
    func appendState(_ state: QueueMessageState, to id: QueueID) throws(QueueError) {
        guard let (location, lock) = try lockMessage(id) else { throw .notFound(id) }
        let (_, _, end) = try read(id, at: location, descriptor: lock.descriptor, heldLock: lock)
        try QueueMessageFile.appendState(QueueMessageFile.encodeState(state), to: lock.descriptor, at: end, path: path(of: id, at: location))
    }

    // MARK: - Internals

    /// Locks the message wherever it is, looking again if it moves (or is compacted into a new file) while
    /// we wait.
    func lockMessage(_ id: QueueID) throws(QueueError) -> (QueueMessage.Location, QueueMessageLock)? {
        for _ in 0..<100 {
            guard let location = locate(id) else { return nil }
            if let lock = try QueueMessageLock.acquire(path(of: id, at: location)) {
                return (location, lock)
            }
        }
        return nil
    }

    /// Renames the message into `tmp/` (gone from the queue in one step), then unlinks it. `durably`:
    /// fsync the old parent first, so the removal survives a crash (an operator's delete); a delivered
    /// message's removal skips it (a crash may bring it back for a duplicate delivery, never lose anything).
    private func remove(_ id: QueueID, from location: QueueMessage.Location, durably: Bool = true) throws(QueueError) {
        let source = path(of: id, at: location)
        // A delivered message's file is kept in spare/ for a later draft to overwrite (QueueSpareFiles).
        if !durably && location == .active && spares.hasRoom {
            try QueueFiles.renameWithoutReplacing(source, sparePath + "/" + id.rawValue)
            spares.add(id.rawValue)
            return
        }
        let doomed = temporaryPath + "/" + id.rawValue + ".deleted"
        try? QueueFiles.removeTree(doomed)
        try QueueFiles.renameWithoutReplacing(source, doomed)
        if durably { try QueueFiles.syncDirectory(directory(location)) }
        try QueueFiles.removeTree(doomed)
    }

    /// Rewrites a message file whose appended states have grown long: the head and body copied, the one
    /// new state after them, fsync'd in `tmp/`, renamed over the old name, the directory fsync'd. Returns
    /// the lock on the new file, taken before it got the name: anyone waiting on the old file finds, once
    /// locked, that the name moved on and looks again (``QueueMessageLock/acquire(_:directory:)``). A crash
    /// leaves the old file (the previous state) or the new one, never neither.
    private func compact(
        _ id: QueueID, at location: QueueMessage.Location, lockedBy old: QueueMessageLock, bodyEnd: Int, state: [UInt8]
    ) throws(QueueError) -> QueueMessageLock {
        let target = path(of: id, at: location)
        let scratch = temporaryPath + "/" + id.rawValue + ".compact"
        try QueueFiles.removeTree(scratch)  // a dead compaction's leftover; the message lock is ours
        let (_, created) = try createLocked(scratch)
        guard let lock = created else { throw .system(SystemError("open", errno: EEXIST, detail: scratch)) }
        do throws(QueueError) {
            var offset = 0
            while offset < bodyEnd {
                let chunk = try QueueFiles.read(old.descriptor, count: min(QueueRecordFraming.dataChunkSize, bodyEnd - offset), at: offset, path: target)
                guard !chunk.isEmpty else { throw QueueError.system(SystemError("read", errno: EIO, detail: target)) }
                try QueueFiles.writeAll(lock.descriptor, chunk, path: scratch)
                offset += chunk.count
            }
            try QueueFiles.writeAll(lock.descriptor, state, path: scratch)
            try QueueFiles.sync(lock.descriptor, path: scratch)
            _ = try QueueFiles.call("rename", target) { rename(scratch, target) }
        } catch {
            if lock.isNamed(by: scratch) { unlink(scratch) }
            throw error
        }
        try QueueFiles.syncDirectory(directory(location))
        return lock
    }

    /// Reads, changes and durably appends a message's state under its lock, then files the message
    /// where its new state belongs (active, failed/, or gone when every recipient was delivered).
    private func update(
        _ id: QueueID, allowFailed: Bool, reviveFailed: Bool = false, logsRemoval: Bool = true,
        _ change: (inout QueueMessageState) throws(QueueError) -> Void
    ) throws(QueueError) -> QueueMessage {
        guard let locked = try lockMessage(id) else { throw .notFound(id) }
        let location = locked.0
        var lock = locked.1
        guard allowFailed || location == .active else {
            throw .invalidRequest("\(id) is in failed/; requeue it first")
        }
        var (message, bodyEnd, stateEnd) = try read(id, at: location, descriptor: lock.descriptor, heldLock: lock)
        try change(&message.state)
        let file = path(of: id, at: location)
        // Every recipient delivered: the message goes without a last state write, and its removal is not
        // fsync'd. A crash that undoes the removal brings back the message as it was before this attempt:
        // those recipients get it twice (issue 14: a crash may duplicate, never lose).
        if location == .active && message.state.isFinished && !message.state.hasPermanentFailures {
            try remove(id, from: .active, durably: false)
            if logsRemoval { logSink.log(LogRecord(.info, "queue.done", [("queue", id.rawValue)])) }
            withExtendedLifetime(lock) {}
            return message
        }
        let record = QueueMessageFile.encodeState(message.state)
        if QueueMessageFile.needsCompaction(stateLog: stateEnd - bodyEnd, adding: record.count) {
            lock = try compact(id, at: location, lockedBy: lock, bodyEnd: bodyEnd, state: record)
        } else {
            try QueueMessageFile.appendState(record, to: lock.descriptor, at: stateEnd, path: file)
        }
        var target = location
        if location == .active && message.state.isFinished {
            target = .failed
        } else if location == .failed && reviveFailed && !message.state.isFinished {
            target = .active
        }
        if target != location {
            // Destination first, then source: after a crash the message is in exactly one of the two.
            try QueueFiles.renameWithoutReplacing(file, path(of: id, at: target))
            try QueueFiles.syncDirectory(directory(target))
            try QueueFiles.syncDirectory(directory(location))
            message.location = target
            logSink.log(LogRecord(.info, target == .failed ? "queue.failed" : "queue.requeued", [("queue", id.rawValue)]))
        }
        withExtendedLifetime(lock) {}
        return message
    }
}
