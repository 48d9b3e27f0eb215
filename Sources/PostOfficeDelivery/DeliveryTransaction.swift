// DeliveryTransaction: one message on its way into one or more Maildirs. The body streams to disk once;
// other recipients get copies; then all copies become visible together, or none does.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore
import PostOfficeMaildir

/// One message being delivered to every mailbox of its recipients. Not thread-safe: one owner at a time.
///
/// **All-or-nothing rule.** Every copy is first written completely and fsync'd before it has a name in `new/`:
/// as an unnamed (`O_TMPFILE`) file on `new/`'s file system, or as a named file in the Maildir's `tmp/`.
/// Only when every copy succeeded are they published — unnamed ones linked into `new/`, named ones renamed
/// there — and then each distinct `new/` directory is fsync'd through the ``DirectorySyncer``; ``commit()``
/// returns only after that. If any copy fails — temporarily (ENOSPC → 4.3.1, EDQUOT → 4.2.2, EIO and the rest
/// → 4.3.0) or permanently (mail loop 5.4.6, too big 5.3.4) — no copy is kept: unnamed files are closed (they
/// vanish), drafts in `tmp/` are removed and copies already published into `new/` are unlinked again, and the
/// transaction's outcome is that failure. So the SMTP client's retry neither loses
/// nor duplicates mail. The one unavoidable exception is a crash after the links or renames and before the client
/// reads our 250: it will resend and the message is stored twice, which SMTP's at-least-once rule
/// ([RFC 5321 §6.1](https://www.rfc-editor.org/rfc/rfc5321#section-6.1)) prefers to losing it.
///
/// **Writing.** Bytes come in CRLF form (as SMTP gives them after dot-unstuffing) and are stored with LF
/// line endings (a bare CR is kept). The first mailbox's draft receives its trace headers and then the body
/// as it streams. At commit every other mailbox's copy gets its own trace headers and the body copied in
/// the kernel (`copy_file_range`) from the first draft. Where the copies go:
/// - up to ``defaultUnnamedCopyLimit`` distinct Maildirs (``DeliveryConfiguration/CopyMethod/copyBody``, or
///   one Maildir with either method): every copy, the first included, is an unnamed file in its Maildir's
///   `new/` (``MaildirDraft/Placement/unnamedFile``), held open until it is linked (a closed unnamed file is
///   gone), so the transaction holds one file descriptor per copy. No `tmp/` entry is created, renamed or
///   removed, and the fsync of a file without a name writes no directory (ext4 without a journal writes the
///   parent directory's block and inode when a newly named file is fsync'd). Where `O_TMPFILE` is missing the
///   drafts fall back to named files in `tmp/`, renamed at the end, with the same order of steps;
/// - above that, or with ``DeliveryConfiguration/CopyMethod/hardLink``: the first draft is a named file in
///   `tmp/`; each further copy is a named file in its `tmp/` (or a hard link of the first), fsync'd and closed
///   through a window of ``unsyncedWindow`` open copies, so a large fan-out holds a bounded number of files.
/// Several recipients resolving to the same Maildir get one copy.
/// Each file is named `<unique>,S=<stored size>,W=<CRLF size>` (the `W=` counts its own trace headers too).
///
/// **No path is trusted after its check.** Each Maildir is walked once from the mail root
/// (``Maildir/openHandle(inside:)``) and its `tmp/` and `new/` kept open as a ``MaildirHandle``; files are
/// created, linked, renamed, unlinked and the directories fsync'd relative to those descriptors. So a
/// symbolic link swapped in for `tmp/`, `new/` or a level above them after the walk cannot redirect a
/// message. The price: two directory descriptors per distinct mailbox until ``commit()`` returns. A Maildir
/// delivered into recently is not walked again while its `new/` path still leads to the directory held open
/// (``MaildirHandleCache``, up to ``DeliveryConfiguration/openMaildirLimit`` Maildirs kept open between
/// deliveries); a moved, replaced or linked one is.
public final class DeliveryTransaction {
    /// The most distinct Maildirs whose copies are all held open as unnamed files. 16: the descriptors a
    /// transaction holds already grow with its fan-out (`tmp/` and `new/` of each Maildir, so 32 at 16), and
    /// holding the copies too adds at most 16 more — 8 more than the named path's window — against a server
    /// budget (`DescriptorBudget`) that keeps 64 spare beyond two per connection. Ordinary fan-outs (a few
    /// recipients, a small alias) are well below it; a large list expansion is where the bounded window pays.
    static let defaultUnnamedCopyLimit = 16

    /// The envelope sender; nil for the null reverse-path.
    public let reversePath: MailAddress?
    public let trace: TraceInfo
    public let recipients: [ResolvedRecipient]

    private struct PlannedCopy {
        var mailbox: DeliveryMailbox
        /// The first envelope recipient that reached this mailbox.
        var envelopeRecipient: MailAddress
        var headers: [UInt8]
        var headerLineFeeds: Int
    }

    private enum Stage { case open, finished }

    private let agent: LocalDeliveryAgent
    private let copies: [PlannedCopy]
    /// Every copy is a draft held open until phase 2 (unnamed where the file system allows), rather than
    /// further copies in `tmp/` written through the ``unsyncedWindow``.
    private let holdsEveryCopy: Bool
    private var firstDraft: MaildirDraft?
    private var converter = LineEndingConverter()
    private var detector: HeaderLoopDetector
    private var buffer: [UInt8] = []
    private var receivedSize = 0
    private var failure: DeliveryError?
    private var stage = Stage.open

    init(agent: LocalDeliveryAgent, reversePath: MailAddress?, recipients: [ResolvedRecipient], trace: TraceInfo)
        throws(DeliveryError)
    {
        self.agent = agent
        self.reversePath = reversePath
        self.trace = trace
        self.recipients = recipients
        let builder = TraceHeaderBuilder(trace: trace, reversePath: reversePath, date: agent.clock.now())
        let shared = agent.configuration.copyMethod == .hardLink
        var planned: [PlannedCopy] = []
        var seen: Set<String> = []
        for recipient in recipients {
            for mailbox in recipient.mailboxes where !seen.contains(mailbox.destination.path) {
                seen.insert(mailbox.destination.path)
                let headers = shared
                    ? builder.headers(recipient: nil, deliveredTo: nil)
                    : builder.headers(recipient: recipient.address, deliveredTo: mailbox.user)
                planned.append(PlannedCopy(
                    mailbox: mailbox, envelopeRecipient: recipient.address, headers: headers,
                    headerLineFeeds: headers.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }))
            }
        }
        copies = planned
        let configuration = agent.configuration
        holdsEveryCopy = planned.count == 1
            || (configuration.copyMethod == .copyBody && planned.count <= configuration.unnamedCopyLimit)
        detector = HeaderLoopDetector(
            recipients: planned.map { $0.mailbox.user.description },
            maximumReceivedCount: agent.configuration.maximumReceivedCount,
            maximumInspectedBytes: agent.configuration.maximumInspectedHeaderBytes)
        guard let first = planned.first else {
            throw DeliveryError(EnhancedStatusCode(5, 1, 1), "No valid recipients")
        }
        do {
            // Copies held open: an unnamed draft linked into new/ at commit (nothing in tmp/; see
            // MaildirDraft.Placement), which further copies read through /proc/self/fd. Otherwise a named one in
            // tmp/, which further copies read and hard-link by name.
            let draft = try Self.openDraft(
                in: first.mailbox.destination, agent: agent, placement: placement(holdingEveryCopy: holdsEveryCopy))
            try draft.write(first.headers)
            firstDraft = draft
        } catch {
            let deliveryError = DeliveryError(storage: error)
            forgetOpenMaildirs()
            log(failure: deliveryError, detail: error.description)
            throw deliveryError
        }
    }

    deinit {
        if stage == .open { firstDraft?.abandon() }
    }

    /// The message size so far as received (CRLF form), for SIZE checks.
    public var receivedByteCount: Int { receivedSize }

    /// The failure met so far, if any; after one, further bytes are ignored.
    public var currentFailure: DeliveryError? { failure }

    /// Adds message bytes (CRLF form, dot-unstuffing done).
    ///
    /// - Throws: the transaction's ``DeliveryError`` once it has failed (I/O error, mail loop, too big).
    ///   A caller may then stop sending bytes, but must still call ``commit()`` (which reports the same
    ///   failure) or ``abort()``. An SMTP server keeps reading DATA to its end before replying.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError) {
        precondition(stage == .open, "append after commit or abort")
        if let failure { throw failure }
        receivedSize += bytes.count
        if let limit = agent.configuration.maximumMessageSize, receivedSize > limit {
            throw fail(DeliveryError(EnhancedStatusCode(5, 3, 4), "Message too big"))
        }
        buffer.removeAll(keepingCapacity: true)
        converter.convert(bytes, into: &buffer)
        try writeConverted()
    }

    /// Adds message bytes (CRLF form, dot-unstuffing done).
    public func append(_ bytes: [UInt8]) throws(DeliveryError) {
        let result: Result<Void, DeliveryError> = bytes.withUnsafeBytes { pointer in
            Result { () throws(DeliveryError) in try append(pointer) }
        }
        try result.get()
    }

    private func writeConverted() throws(DeliveryError) {
        if !detector.isFinished {
            buffer.withUnsafeBytes { detector.inspect($0) }
            if let finding = detector.finding { throw fail(Self.loopError(finding)) }
        }
        guard !buffer.isEmpty, let draft = firstDraft else { return }
        do {
            try draft.write(buffer)
        } catch {
            forgetOpenMaildirs()
            throw fail(DeliveryError(storage: error), detail: error.description)
        }
    }

    @discardableResult
    private func fail(_ error: DeliveryError, detail: String? = nil) -> DeliveryError {
        if failure == nil {
            failure = error
            log(failure: error, detail: detail)
            firstDraft?.abandon()
        }
        return failure ?? error
    }

    private static func loopError(_ finding: HeaderLoopDetector.Finding) -> DeliveryError {
        switch finding {
        case .deliveredTo(let address):
            DeliveryError(EnhancedStatusCode(5, 4, 6), "Mail loop: already delivered to \(LogRecord.escape(address))")
        case .tooManyReceived(let count):
            DeliveryError(EnhancedStatusCode(5, 4, 6), "Mail loop: too many Received headers (\(count))")
        }
    }

    /// Abandons the transaction; nothing is stored.
    public func abort() {
        guard stage == .open else { return }
        stage = .finished
        firstDraft?.abandon()
        firstDraft = nil
    }

    /// Stores every copy, or none (see the type's documentation), and reports the outcome.
    /// Returns only after the directory fsyncs covering the renames are done.
    public func commit() -> DeliveryResult {
        precondition(stage == .open, "commit after commit or abort")
        stage = .finished
        let overall: DeliveryOutcome
        var namesByDestination: [String: String] = [:]
        do throws(DeliveryError) {
            namesByDestination = try storeAllCopies()
            overall = .delivered(copies.compactMap { namesByDestination[$0.mailbox.destination.path] })
        } catch {
            overall = fail(error).outcome
        }
        firstDraft?.abandon()
        firstDraft = nil
        let perRecipient = recipients.map { recipient -> DeliveryResult.RecipientOutcome in
            let outcome: DeliveryOutcome
            if recipient.mailboxes.isEmpty {
                outcome = .permanentFailure(EnhancedStatusCode(5, 1, 1), "No such user here")
            } else if overall.isDelivered {
                var names: [String] = []
                for mailbox in recipient.mailboxes {
                    if let name = namesByDestination[mailbox.destination.path], !names.contains(name) { names.append(name) }
                }
                outcome = .delivered(names)
            } else {
                outcome = overall
            }
            return DeliveryResult.RecipientOutcome(recipient: recipient.address, mailboxes: recipient.mailboxes, outcome: outcome)
        }
        return DeliveryResult(overall: overall, recipients: perRecipient)
    }

    /// Where a draft held open until phase 2 is placed (the test hook stands in for a file system without
    /// `O_TMPFILE`).
    private func placement(holdingEveryCopy: Bool) -> MaildirDraft.Placement {
        holdingEveryCopy && agent.configuration.allowsUnnamedFiles ? .unnamedFile : .temporaryDirectory
    }

    /// A copy made ready (fsync'd, not yet visible), waiting for its link or rename into `new/`.
    private enum StagedCopy {
        /// A copy still open: the first (it received the streamed message) or, with ``holdsEveryCopy``, any
        /// further one. Committed with ``MaildirDraft/commit(virtualSize:syncDirectory:)`` (link or rename).
        case draft(MaildirDraft, virtualSize: Int)
        /// A further copy, complete in tmp/ (or a hard link of the first); fsync'd and closed before phase 2, at
        /// most ``DeliveryTransaction/unsyncedWindow`` of them open at a time (plus each Maildir's tmp/ and new/).
        case file(handle: MaildirHandle, baseName: String, finalName: String, isLink: Bool)
    }

    private func storeAllCopies() throws(DeliveryError) -> [String: String] {
        if let failure { throw failure }
        buffer.removeAll(keepingCapacity: true)
        converter.finish(into: &buffer)
        try writeConverted()
        detector.finish()
        if let finding = detector.finding { throw fail(Self.loopError(finding)) }
        guard let first = firstDraft, let firstCopy = copies.first else {
            throw fail(DeliveryError(EnhancedStatusCode(4, 3, 0), "Transaction has no open draft"))
        }
        let body = BodyRange(offset: firstCopy.headers.count, size: converter.storedSize, lineFeeds: converter.lineFeedCount)
        let charges = try checkQuota(bodySize: body.size)
        var staged: [StagedCopy] = []
        var renamed: [(handle: MaildirHandle, name: String)] = []
        // Copies written but not yet fsync'd (their descriptors still open), oldest first.
        var unsynced: [UnsyncedCopy] = []
        do throws(SystemError) {
            // Phase 1: every copy complete and on stable storage (unnamed, or in tmp/) before any becomes
            // visible. With several copies each one's writeback starts as soon as it is written and the fsyncs
            // follow, so the device works on the copies together instead of one fsync round trip after another.
            if copies.count == 1 { try first.sync() } else { first.startWriteback() }
            staged.append(.draft(first, virtualSize: first.byteCount + firstCopy.headerLineFeeds + body.lineFeeds))
            if copies.count > 1 {
                // Read through the draft's own (read-write) descriptor at explicit offsets: no second open.
                let source = first.fileDescriptor
                // The mail root opened once for all further Maildirs not kept open (each is still walked from it).
                let root = MailRootDescriptor(path: agent.configuration.mailRoot)
                for copy in copies.dropFirst() {
                    if holdsEveryCopy {
                        // Staged before it is written, so a failure half-way is rolled back with the others.
                        let draft = try Self.openDraft(
                            in: copy.mailbox.destination, agent: agent, placement: placement(holdingEveryCopy: true),
                            root: root)
                        let size = copy.headers.count + body.size
                        staged.append(.draft(draft, virtualSize: size + copy.headerLineFeeds + body.lineFeeds))
                        try draft.write(copy.headers)
                        try BodyCopier.copy(from: source, offset: body.offset, count: body.size, to: draft.fileDescriptor)
                        draft.noteWritten(body.size)
                        draft.startWriteback()
                        continue
                    }
                    let (stagedCopy, pending) = try stage(
                        copy, first: first, firstCopy: firstCopy, source: source, body: body, root: root)
                    staged.append(stagedCopy)
                    if let pending { unsynced.append(pending) }
                    // A bounded window of open copies, so a large fan-out holds few descriptors.
                    if unsynced.count >= Self.unsyncedWindow { try unsynced.removeFirst().finish() }
                }
                try first.sync()
                while !unsynced.isEmpty { try unsynced.removeFirst().finish() }
                for case .draft(let draft, _) in staged.dropFirst() { try draft.sync() }
            }
            // Phase 2: links (unnamed drafts) or renames (named ones) into new/, then the directory fsyncs
            // that make them durable.
            var names: [String: String] = [:]
            var directories: [DirectoryReference] = []
            for (index, copy) in staged.enumerated() {
                let destination = copies[index].mailbox.destination
                let name: String
                let handle: MaildirHandle
                switch copy {
                case .draft(let draft, let virtualSize):
                    handle = draft.handle
                    name = try draft.commit(virtualSize: virtualSize, syncDirectory: false)
                case .file(let fileHandle, let baseName, let finalName, _):
                    handle = fileHandle
                    try handle.publish(baseName, as: finalName)
                    name = finalName
                }
                renamed.append((handle, name))
                names[destination.path] = name
                if !directories.contains(where: { $0.identity == handle.newDirectory.identity }) {
                    directories.append(handle.newDirectory)
                }
            }
            try agent.directorySyncer.synchronize(directories: directories)
            // A line per mailbox, handed over together (a line-writing sink writes them with one call).
            var records: [LogRecord] = []
            records.reserveCapacity(copies.count)
            for (index, copy) in copies.enumerated() {
                guard let name = names[copy.mailbox.destination.path] else { continue }
                var fields: [(String, String)] = [
                    ("queue", trace.queueID), ("recipient", copy.envelopeRecipient.description),
                    ("user", copy.mailbox.user.description), ("maildir", copy.mailbox.destination.path),
                    ("file", name),
                ]
                if case .file(_, _, _, true) = staged[index] { fields.append(("method", "link")) }
                records.append(LogRecord(.info, "delivery.stored", session: trace.sessionID, fields))
            }
            agent.logSink.log(records)
            chargeQuota(charges)
            return names
        } catch {
            for copy in unsynced { close(copy.descriptor) }
            // Roll back: nothing may stay visible, nothing may stay in tmp/ (unnamed drafts not yet linked
            // vanish when abandoned). The unlinks are synced on a best-effort basis so a crash does not bring
            // the copies back.
            var directories: [DirectoryReference] = []
            for (handle, name) in renamed {
                handle.removeFromNew(name)
                if !directories.contains(where: { $0.identity == handle.newDirectory.identity }) {
                    directories.append(handle.newDirectory)
                }
            }
            if !directories.isEmpty { try? agent.directorySyncer.synchronize(directories: directories) }
            for copy in staged {
                switch copy {
                case .draft(let draft, _): draft.abandon()
                case .file(let handle, let baseName, _, _): handle.removeFromTmp(baseName)
                }
            }
            firstDraft = nil
            forgetOpenMaildirs()
            throw fail(DeliveryError(storage: error), detail: error.description)
        }
    }

    /// What a transaction adds to one user's Maildir++ quota (all copies below one root Maildir).
    private struct QuotaCharge {
        var user: MailAddress
        var maildir: Maildir
        var quota: MailboxQuota
        /// The usage before this message; nil when the user has no quota (only the deltas are kept).
        var before: MaildirQuotaUsage?
        var bytes: Int
        var messages: Int
    }

    /// Before any copy becomes visible: the bytes and messages each user's root Maildir gains, and the
    /// refusal (5.2.2, or 4.2.2) when one would go over quota. Stored sizes (`S=`) are what Maildir++ counts.
    ///
    /// With several envelope recipients the refusal is temporary (4.2.2) even without `quota_full_tempfail`:
    /// SMTP has one reply after DATA for the whole message, the other recipients' copies must not be kept
    /// without a 250 (all or nothing), and a permanent 552 would bounce the message for every recipient. On the
    /// retry the sender's RCPT for the full mailbox is refused on its own (552 5.2.2 at RCPT once `SIZE=` says
    /// it does not fit, or the mailbox is at its limit) and the others are delivered.
    private func checkQuota(bodySize: Int) throws(DeliveryError) -> [QuotaCharge] {
        guard agent.enforcesQuota else { return [] }
        var charges: [QuotaCharge] = []
        for copy in copies {
            let size = copy.headers.count + bodySize
            let root = copy.mailbox.maildir
            if let index = charges.firstIndex(where: { $0.maildir == root }) {
                charges[index].bytes += size
                charges[index].messages += 1
                continue
            }
            let quota = agent.quota(for: copy.mailbox.user)
            var before: MaildirQuotaUsage?
            if !quota.isUnlimited {
                do {
                    before = try agent.currentQuotaUsage(of: root, quota: quota)
                } catch {
                    // The quota file is a cache: failing to read it must not refuse mail.
                    agent.logSink.log(LogRecord(.warning, "quota.unreadable", session: trace.sessionID, [
                        ("maildir", root.path), ("error", error.description),
                    ]))
                }
            }
            if let before, let percent = agent.configuration.quotaWarningPercent, !before.reaches(percent: percent, of: quota) {
                root.clearQuotaWarning()   // below the line again: the next crossing warns anew
            }
            charges.append(QuotaCharge(user: copy.mailbox.user, maildir: root, quota: quota, before: before, bytes: size, messages: 1))
        }
        let soleRecipient = recipients.filter { !$0.mailboxes.isEmpty }.count == 1
        for charge in charges {
            guard let before = charge.before, !before.admits(bytes: charge.bytes, messages: charge.messages, within: charge.quota)
            else { continue }
            throw fail(agent.quotaError(
                user: charge.user, quota: charge.quota, usage: before,
                isTemporary: agent.configuration.quotaFullIsTemporary || !soleRecipient))
        }
        return charges
    }

    /// After the copies are durable: appends each user's delta to `maildirsize` (a missing file is counted
    /// afresh by the next check) and delivers the quota warning to users whose usage reached `quota_warning`
    /// percent, once until their usage is seen below that line again.
    private func chargeQuota(_ charges: [QuotaCharge]) {
        for charge in charges {
            do {
                try charge.maildir.appendQuotaDelta(bytes: charge.bytes, messages: charge.messages)
            } catch {
                agent.logSink.log(LogRecord(.warning, "quota.update_failed", session: trace.sessionID, [
                    ("maildir", charge.maildir.path), ("error", error.description),
                ]))
            }
            guard let percent = agent.configuration.quotaWarningPercent, let before = charge.before else { continue }
            let after = MaildirQuotaUsage(byteCount: before.byteCount + charge.bytes, messageCount: before.messageCount + charge.messages)
            // At or above the line and no warning since usage was last below it (the marker file, created
            // with O_EXCL, so two deliveries at once send one warning).
            guard after.reaches(percent: percent, of: charge.quota) else { continue }
            let claimed: Bool
            do {
                claimed = try charge.maildir.claimQuotaWarning()
            } catch {
                agent.logSink.log(LogRecord(.warning, "quota.warning_failed", session: trace.sessionID, [
                    ("user", charge.user.description), ("error", error.description),
                ]))
                continue
            }
            if claimed && !agent.deliverQuotaWarning(
                user: charge.user, maildir: charge.maildir, usage: after, quota: charge.quota, percent: percent,
                sessionID: trace.sessionID)
            {
                charge.maildir.clearQuotaWarning()   // not stored: the next delivery tries again
            }
        }
    }

    /// Where the body sits in the first copy, and its LF count (for W=).
    private struct BodyRange {
        var offset: Int
        var size: Int
        var lineFeeds: Int
    }

    /// How many further copies in `tmp/` may be written ahead of their fsyncs (each holds a descriptor
    /// meanwhile), when the copies are not all held open (above ``defaultUnnamedCopyLimit`` or hard links).
    static let unsyncedWindow = 8

    /// A further copy written in `tmp/` whose writeback has started: ``finish()`` fsyncs and closes it.
    private struct UnsyncedCopy {
        var descriptor: Int32
        var path: String

        /// fsync, then close (a failed close is a failed copy: NFS and quotas report write errors there).
        func finish() throws(SystemError) {
            let descriptor = descriptor
            do {
                _ = try SystemCall.retrying("fsync", detail: path) { fsync(descriptor) }
            } catch {
                close(descriptor)
                throw error
            }
            if close(descriptor) != 0 && errno != EINTR {
                throw SystemError("close", errno: errno, detail: path)
            }
        }
    }

    /// Makes one further copy in its Maildir's `tmp/`: a hard link of the first when allowed, otherwise a new
    /// file written with its own headers and the body copied in the kernel, its writeback started and its
    /// descriptor returned for the fsync (the caller removes the tmp/ file if anything later fails).
    private func stage(
        _ copy: PlannedCopy, first: MaildirDraft, firstCopy: PlannedCopy, source: Int32, body: BodyRange,
        root: MailRootDescriptor
    ) throws(SystemError) -> (StagedCopy, UnsyncedCopy?) {
        let handle = try Self.prepare(copy.mailbox.destination, agent: agent, root: root)
        let baseName = agent.names.next()
        let tmpPath = handle.maildir.tmpPath + "/" + baseName
        let tmp = handle.tmpDescriptor
        if agent.configuration.copyMethod == .hardLink && copy.headers == firstCopy.headers {
            // linkat without AT_SYMLINK_FOLLOW links the draft itself, relative to both open tmp/ directories.
            if linkat(first.handle.tmpDescriptor, first.baseName, tmp, baseName, 0) == 0 {
                let size = first.byteCount
                let virtualSize = size + copy.headerLineFeeds + body.lineFeeds
                return (.file(handle: handle, baseName: baseName, finalName: "\(baseName),S=\(size),W=\(virtualSize)", isLink: true), nil)
            }
            let code = errno
            // Across file systems (or where links are not supported) fall back to a real copy.
            guard code == EXDEV || code == EPERM || code == EMLINK else {
                throw SystemError("link", errno: code, detail: tmpPath)
            }
        }
        // The same protocol as MaildirDraft: O_EXCL in tmp/, write everything; the fsync and the checked close
        // come from the caller (UnsyncedCopy.finish) once the other copies' writeback has started too.
        let descriptor = try SystemCall.retrying("open", detail: tmpPath) {
            openat(tmp, baseName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        do {
            try Self.writeAll(copy.headers, to: descriptor, path: tmpPath)
            try BodyCopier.copy(from: source, offset: body.offset, count: body.size, to: descriptor)
        } catch {
            close(descriptor)
            handle.removeFromTmp(baseName)
            throw error
        }
        MaildirDraft.startWriteback(descriptor: descriptor)
        let size = copy.headers.count + body.size
        let virtualSize = size + copy.headerLineFeeds + body.lineFeeds
        return (.file(handle: handle, baseName: baseName, finalName: "\(baseName),S=\(size),W=\(virtualSize)", isLink: false),
                UnsyncedCopy(descriptor: descriptor, path: tmpPath))
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(SystemError) {
        let result: Result<Void, SystemError> = bytes.withUnsafeBytes { pointer in
            Result { () throws(SystemError) in
                guard let base = pointer.baseAddress else { return }
                var offset = 0
                while offset < pointer.count {
                    offset += try SystemCall.retrying("write", detail: path) {
                        write(descriptor, base + offset, pointer.count - offset)
                    }
                }
            }
        }
        try result.get()
    }

    static func openDraft(
        in maildir: Maildir, agent: LocalDeliveryAgent, placement: MaildirDraft.Placement = .temporaryDirectory,
        root: MailRootDescriptor? = nil
    ) throws(SystemError) -> MaildirDraft {
        try MaildirDraft(
            handle: prepare(maildir, agent: agent, root: root), baseName: agent.names.next(),
            placement: placement)
    }

    /// Checks, before anything is written or created, that the Maildir and its `tmp/`, `new/` and `cur/`
    /// are real directories below the mail root, and creates the missing ones inside it. A symbolic link
    /// planted below the root (by a local user, or a careless admin) is refused with ELOOP (451), wherever
    /// it points: `bob -> /elsewhere`, `bob/new -> /elsewhere`, `kate -> alice` alike. The lexical check of
    /// the address cannot see links; walking with openat(O_NOFOLLOW) can. The walk's `tmp/` and `new/`
    /// come back open, and everything after works from them, so the check cannot be raced.
    /// A Maildir delivered into recently is kept open (``LocalDeliveryAgent/openMaildirs``) and used again while
    /// its `new/` path still leads to the same directory (``MaildirHandleCache/handle(for:)``); the walk is
    /// what a new, moved or replaced Maildir gets.
    /// `root`: the mail root, opened once for the transaction's walks (see
    /// ``Maildir/openHandle(inside:rootDescriptor:)``) and only if one is needed.
    static func prepare(
        _ maildir: Maildir, agent: LocalDeliveryAgent, root: MailRootDescriptor? = nil
    ) throws(SystemError) -> MaildirHandle {
        if let kept = agent.openMaildirs?.handle(for: maildir) { return kept }
        let handle = try maildir.openHandle(inside: agent.configuration.mailRoot, rootDescriptor: root?.descriptor)
        agent.openMaildirs?.store(handle)
        return handle
    }

    /// Drops the transaction's Maildirs from the open ones after a storage failure, so a retry walks them again
    /// (a directory deleted or replaced under a kept handle fails the delivery once, temporarily).
    private func forgetOpenMaildirs() {
        guard let openMaildirs = agent.openMaildirs else { return }
        for copy in copies { openMaildirs.forget(copy.mailbox.destination) }
    }

    private func log(failure: DeliveryError, detail: String?) {
        var fields: [(String, String)] = [
            ("queue", trace.queueID), ("status", failure.statusCode.description), ("reason", failure.reason),
        ]
        if let detail { fields.append(("error", detail)) }
        agent.logSink.log(LogRecord(failure.isTemporary ? .warning : .info, "delivery.failed", session: trace.sessionID, fields))
    }
}

/// The mail root for one transaction's walks: opened when the first Maildir not kept open needs it (a delivery
/// into kept Maildirs opens nothing), closed with the transaction's commit.
final class MailRootDescriptor {
    private let path: String
    private var opened: Int32?

    init(path: String) {
        self.path = path
    }

    deinit {
        if let opened, opened >= 0 { close(opened) }
    }

    /// The open root, or nil when it cannot be opened (the walk then opens it itself and names the error).
    var descriptor: Int32? {
        if opened == nil { opened = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard let opened, opened >= 0 else { return nil }
        return opened
    }
}
