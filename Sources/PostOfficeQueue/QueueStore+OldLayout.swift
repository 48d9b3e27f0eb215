// QueueStore+OldLayout: converts a queue written before issue 14 (a directory per message holding `body`
// and `state`) into message files when the store opens. Publish the copy first, remove the original
// after: a crash in between leaves both (a duplicate delivery), never neither.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

extension QueueStore {
    /// Converts every old-layout message directory in `messages/` and `failed/` into a message file.
    /// Each gets a new id (logged as `queue.converted` with both ids); one that fails validation goes to
    /// `corrupt/` and is logged, as a scan would do. A system error stops the conversion and is thrown.
    func convertOldLayout() throws(QueueError) {
        for location in [QueueMessage.Location.active, .failed] {
            for name in try QueueFiles.list(directory(location)).sorted() {
                let source = directory(location) + "/" + name
                guard let id = QueueID(name), QueueFiles.isRealDirectory(source) else { continue }
                try convertOldMessage(id, at: location)
            }
        }
    }

    /// Converts one old-layout message directory (see ``convertOldLayout()``).
    func convertOldMessage(_ id: QueueID, at location: QueueMessage.Location) throws(QueueError) {
        let source = path(of: id, at: location)
        // Another process (the CLI beside the server) may be converting it: wait, then see if it is still there.
        guard let oldLock = try QueueMessageLock.acquire(source, directory: true) else { return }
        defer { withExtendedLifetime(oldLock) {} }
        let bodyPath = source + "/body"
        let body = SystemCall.restarting { open(bodyPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard body >= 0 else {
            if errno == ENOENT { return quarantineOld(id, source: source, location: location, file: "body", .truncated) }
            throw .system(SystemError("open", errno: errno, detail: bodyPath))
        }
        defer { close(body) }
        let layout: QueueBodyFormat.Layout
        switch try QueueBodyFormat.readLayout(body, path: bodyPath) {
        case .failure(let error): return quarantineOld(id, source: source, location: location, file: "body", error)
        case .success(let value): layout = value
        }
        let stateBytes: [UInt8]?
        do {
            stateBytes = try QueueFiles.readFile(source + "/state", limit: QueueStateFormat.sizeLimit)
        } catch {
            if case .system(let system) = error, system.errno == ENOENT {
                return quarantineOld(id, source: source, location: location, file: "state", .truncated)
            }
            throw error
        }
        guard let stateBytes else {
            return quarantineOld(id, source: source, location: location, file: "state", .payloadTooLong(QueueStateFormat.sizeLimit))
        }
        let state: QueueMessageState
        let eightBit: Bool?
        do {
            (state, eightBit) = try QueueStateFormat.decodeWithBodyFlag(stateBytes)
        } catch {
            return quarantineOld(id, source: source, location: location, file: "state", error)
        }
        guard state.recipients.count == layout.envelope.recipients.count else {
            return quarantineOld(id, source: source, location: location, file: "state", .inconsistent("recipient count differs from the envelope"))
        }
        // The new file: header and H, then the old body file's records byte for byte (E, R…, D…, Z), then the state.
        var newID: QueueID
        var draft: (String, QueueMessageLock?)
        repeat {
            newID = QueueID.generate(clock: clock, random: random)
            draft = try createLocked(temporaryPath + "/" + newID.rawValue)
        } while draft.1 == nil || locate(newID) != nil
        let (file, newLock) = (draft.0, draft.1!)
        do throws(QueueError) {
            let oldSize = try QueueFiles.size(body, path: bodyPath)
            let copied = oldSize - QueueRecordFraming.fileHeaderSize
            let bodyEnd = QueueMessageFile.envelopeOffset + copied
            var out = QueueRecordFraming.fileHeader(magic: QueueRecordFraming.messageMagic)
                + QueueMessageFile.encodeHead(bodyEnd: bodyEnd, hasEightBitOctets: eightBit)
            try QueueFiles.writeAll(newLock.descriptor, out, path: file)
            var offset = QueueRecordFraming.fileHeaderSize
            while offset < oldSize {
                out = try QueueFiles.read(body, count: min(QueueRecordFraming.dataChunkSize, oldSize - offset), at: offset, path: bodyPath)
                guard !out.isEmpty else { throw QueueError.system(SystemError("read", errno: EIO, detail: bodyPath)) }
                try QueueFiles.writeAll(newLock.descriptor, out, path: file)
                offset += out.count
            }
            try QueueFiles.writeAll(newLock.descriptor, QueueMessageFile.encodeState(state), path: file)
            try QueueFiles.sync(newLock.descriptor, path: file)
            try QueueFiles.renameWithoutReplacing(file, path(of: newID, at: location))
            try QueueFiles.syncDirectory(directory(location))
        } catch {
            if newLock.isNamed(by: file) { unlink(file) }
            throw error
        }
        withExtendedLifetime(newLock) {}
        // Only now is the original removed (renamed into tmp/ in one step, that made durable, then emptied).
        let doomed = temporaryPath + "/" + id.rawValue + ".converted"
        try? QueueFiles.removeTree(doomed)
        try QueueFiles.renameWithoutReplacing(source, doomed)
        try QueueFiles.syncDirectory(directory(location))
        try QueueFiles.removeTree(doomed)
        logSink.log(LogRecord(.info, "queue.converted", [
            ("queue", newID.rawValue), ("old_queue", id.rawValue), ("location", location.rawValue),
        ]))
    }

    /// An old-layout message that fails validation: moved to `corrupt/` as found, logged.
    private func quarantineOld(_ id: QueueID, source: String, location: QueueMessage.Location, file: String, _ error: QueueRecordError) {
        var fields: [(String, String)] = [("queue", id.rawValue), ("file", file), ("reason", error.description)]
        do {
            fields.append(("moved_to", try moveAside(source, name: id.rawValue)))
            try QueueFiles.syncDirectory(directory(location))
        } catch {
            fields.append(("error", error.description))
        }
        logSink.log(LogRecord(.error, "queue.corrupt", fields))
    }
}
