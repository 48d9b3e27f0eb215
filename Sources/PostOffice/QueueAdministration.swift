// QueueAdministration: the outbound queue as an operator sees it (the CLI's `postoffice queue`): list, show,
// hold, release, requeue, delete and flush, on plain values with stable names. Safe while the server runs:
// every change goes through QueueStore, which locks the one message it changes.

import PostOfficeCore
import PostOfficeQueue

/// The outbound queue of a configuration (``PostOfficeConfiguration/queueDirectory``), for inspection and
/// operator actions. A missing queue folder (``PostOfficeConfiguration/deliversOutbound`` never on) is an
/// empty queue; nothing is created until the server queues a message.
public final class QueueAdministration: Sendable {
    /// The queue folder.
    public let path: String
    private let store: QueueStore?
    private let clock: any MailClock

    /// Where a recipient stands.
    public enum RecipientStatus: String, Hashable, Sendable {
        /// Not tried yet; due at ``Recipient/nextAttempt``.
        case pending
        /// The last attempt failed temporarily (4.x.x); tried again at ``Recipient/nextAttempt``.
        case deferred
        /// Accepted by the next hop.
        case delivered
        /// Failed for good (5.x.x, or the queue lifetime ran out); awaiting a bounce.
        case failed
    }

    /// One recipient of a queued message and its progress.
    public struct Recipient: Hashable, Sendable {
        /// The forward-path.
        public var address: String
        public var status: RecipientStatus
        /// Attempts made so far.
        public var attempts: Int
        /// When the next attempt is due; nil once delivered or failed.
        public var nextAttempt: MailTime?
        /// When the last attempt ended, if any.
        public var lastAttempt: MailTime?
        /// The last reply's text; empty while pending.
        public var reply: String
        /// The last reply's enhanced status code (`4.4.1`), if any.
        public var statusCode: String?
    }

    /// A queued message without its body.
    public struct Message: Hashable, Sendable {
        /// The queue ID (lower-case hex).
        public var id: String
        /// True for a message in `failed/`: every recipient final, some failed, no bounce sent yet.
        public var isFailed: Bool
        /// Kept but not attempted until released.
        public var isHeld: Bool
        /// When the message was accepted.
        public var arrival: MailTime
        /// The stored message size in bytes.
        public var size: Int
        /// The reverse-path; empty for the null sender `<>` (a bounce).
        public var sender: String
        /// The `ENVID=` parameter, if given.
        public var envelopeID: String?
        public var recipients: [Recipient]
    }

    /// A malformed queue ID: not 9 to 40 lower-case hex digits.
    public struct InvalidID: Error, Hashable, Sendable, CustomStringConvertible {
        /// The text given.
        public var text: String
        public init(text: String) { self.text = text }
        public var description: String { "'\(text)' is not a queue ID (9 to 40 hex digits, as `postoffice queue list` shows)" }
    }

    /// No message with this ID in the queue (delivered, deleted, or never queued).
    public struct NotFound: Error, Hashable, Sendable, CustomStringConvertible {
        /// The ID asked for.
        public var id: String
        public var description: String { "no queued message \(id)" }
    }

    /// What ``flush(domain:)`` did.
    public struct FlushResult: Hashable, Sendable {
        /// Messages made due now.
        public var requeued: [String] = []
        /// Messages with recipients waiting that were left alone because they are held.
        public var held: [String] = []
        /// Messages with recipients waiting that were left alone because another recipient failed for good
        /// (requeueing would try that one again; use ``requeue(_:)`` to mean it).
        public var withFailures: [String] = []
    }

    /// The queue of `configuration`. Does not create the folder when it is missing.
    public convenience init(configuration: PostOfficeConfiguration, logSink: any LogSink = DiscardingLogSink()) throws {
        try self.init(path: configuration.queueDirectory, clock: SystemClock(), logSink: logSink)
    }

    /// The queue at `path`; `logSink` receives the queue's own records (`queue.deleted`, `queue.corrupt`).
    public init(path: String, clock: any MailClock = SystemClock(), logSink: any LogSink = DiscardingLogSink()) throws {
        self.path = path
        self.clock = clock
        store = FileSystem.isDirectory(atPath: path)
            ? try QueueStore(path: path, clock: clock, random: SystemRandomSource(), logSink: logSink) : nil
    }

    /// True when `text` has the form of a queue ID (any case).
    public static func isValidID(_ text: String) -> Bool { QueueID(text.lowercased()) != nil }

    /// Every queued message, active and failed, oldest ID first.
    public func list() throws -> [Message] {
        guard let store else { return [] }
        return try store.scan().map(Self.message)
    }

    /// One message. Throws ``InvalidID`` or ``NotFound``.
    public func message(_ id: String) throws -> Message {
        try withMessage(id) { store, id throws(QueueError) in Self.message(try store.load(id)) }
    }

    /// The header section of a message (up to the first empty line, at most `limit` bytes), LF line ends.
    public func headers(_ id: String, limit: Int = 256 * 1024) throws -> String {
        let body = try withMessage(id) { store, id throws(QueueError) in try store.openBody(id) }
        var bytes: [UInt8] = []
        while bytes.count < limit, let chunk = try body.next() {
            bytes += chunk
            if Self.headerEnd(bytes) != nil { break }
        }
        let end = min(Self.headerEnd(bytes) ?? bytes.count, limit)
        return String(decoding: bytes[..<end].filter { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    }

    /// Holds a message: kept and listed, not attempted until ``release(_:)``.
    @discardableResult
    public func hold(_ id: String) throws -> Message {
        try withMessage(id) { store, id throws(QueueError) in Self.message(try store.hold(id)) }
    }

    /// Releases a held message.
    @discardableResult
    public func release(_ id: String) throws -> Message {
        try withMessage(id) { store, id throws(QueueError) in Self.message(try store.release(id)) }
    }

    /// Makes every recipient still to be tried due now; a failed message returns to the active queue with
    /// its failed recipients pending again (the same for a permanently failed recipient of an active one).
    @discardableResult
    public func requeue(_ id: String) throws -> Message {
        try withMessage(id) { store, id throws(QueueError) in Self.message(try store.requeue(id)) }
    }

    /// Removes a message for good (no bounce is sent).
    public func delete(_ id: String) throws {
        try withMessage(id) { store, id throws(QueueError) in try store.delete(id) }
    }

    /// Makes due now every active, unheld message with a recipient waiting for a later attempt (one in
    /// `domain`, when given), so the server's queue manager tries it at its next scan of the queue.
    public func flush(domain: String? = nil) throws -> FlushResult {
        var result = FlushResult()
        guard let store else { return result }
        let now = clock.now()
        let domain = domain.map { MailAddress.canonicalDomain($0) }
        for message in try store.scan() where message.location == .active {
            let waiting = message.state.recipients.indices.contains { index in
                let state = message.state.recipients[index]
                let address = message.envelope.recipients[index].address
                return !state.status.isFinal && state.nextAttempt > now && (domain == nil || address.normalizedDomain == domain)
            }
            guard waiting else { continue }
            if message.state.isHeld {
                result.held.append(message.id.rawValue)
            } else if message.state.hasPermanentFailures {
                result.withFailures.append(message.id.rawValue)
            } else if try Self.requeueIfPresent(message.id, in: store) {
                result.requeued.append(message.id.rawValue)
            }
        }
        return result
    }

    // MARK: Internals

    /// Requeues `id`; false when it has gone meanwhile (delivered or deleted).
    private static func requeueIfPresent(_ id: QueueID, in store: QueueStore) throws(QueueError) -> Bool {
        do {
            try store.requeue(id)
            return true
        } catch {
            if error == .notFound(id) { return false }
            throw error
        }
    }

    /// Runs `body` on the store and the parsed ID; a malformed ID is ``InvalidID``, a missing one ``NotFound``.
    private func withMessage<T>(_ text: String, _ body: (QueueStore, QueueID) throws(QueueError) -> T) throws -> T {
        let id = try Self.queueID(text)
        guard let store else { throw NotFound(id: id.rawValue) }
        do {
            return try body(store, id)
        } catch {
            if error == .notFound(id) { throw NotFound(id: id.rawValue) }
            throw error
        }
    }

    private static func queueID(_ text: String) throws(InvalidID) -> QueueID {
        guard let id = QueueID(text.lowercased()) else { throw InvalidID(text: text) }
        return id
    }

    /// The index just past the header section (before the empty line), if the empty line has been read.
    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        var lineStart = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                let line = bytes[lineStart..<index]
                if line.isEmpty || line == [UInt8(ascii: "\r")] { return lineStart }
                lineStart = index + 1
            }
            index += 1
        }
        return nil
    }

    private static func message(_ queued: QueueMessage) -> Message {
        let recipients = zip(queued.envelope.recipients, queued.state.recipients).map { recipient, state in
            var status = RecipientStatus.pending
            var code: String?
            switch state.status {
            case .pending: break
            case .delivered: status = .delivered
            case .temporaryFailure(let c, _):
                status = .deferred
                code = c.description
            case .permanentFailure(let c, _):
                status = .failed
                code = c.description
            }
            return Recipient(
                address: recipient.address.description, status: status, attempts: state.attempts,
                nextAttempt: state.status.isFinal ? nil : state.nextAttempt, lastAttempt: state.lastAttempt,
                reply: state.status.reply, statusCode: code)
        }
        return Message(
            id: queued.id.rawValue, isFailed: queued.location == .failed, isHeld: queued.state.isHeld,
            arrival: queued.envelope.arrival, size: queued.envelope.messageSize,
            sender: queued.envelope.reversePath?.description ?? "", envelopeID: queued.envelope.envelopeID,
            recipients: recipients)
    }
}
