// PostOfficeServer+Submit: local mail submission (the library side of `postoffice sendmail`) — a message
// from a program, delivered through the same transactions as SMTP, whether or not the server is listening.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeQueue

extension PostOfficeServer {
    /// How a submitted message is read and completed (the sendmail options).
    public struct SubmitOptions: Hashable, Sendable {
        /// `-t`: recipients also come from the `To:`, `Cc:` and `Bcc:` headers (or `Resent-To:`... when present).
        public var extractsRecipients: Bool
        /// False for `-i` / `-oi`: a line holding only `.` does not end the input.
        public var dotEndsInput: Bool
        /// `-F`: the display name of a generated `From:`.
        public var fullName: String?

        public init(extractsRecipients: Bool = false, dotEndsInput: Bool = true, fullName: String? = nil) {
            self.extractsRecipients = extractsRecipients
            self.dotEndsInput = dotEndsInput
            self.fullName = fullName
        }
    }

    /// What became of a submitted message.
    public struct SubmitResult: Hashable, Sendable {
        /// 2.0.0 when stored in every recipient's Maildir (fsync'd); else the RFC 3463 code of the failure.
        public var statusCode: EnhancedStatusCode
        /// A one-line explanation (`No such user here: bob@example.test`).
        public var reason: String
        /// The envelope recipients: those given, then with `-t` those found in the headers.
        public var recipients: [MailAddress]
        /// The queue id, as in the log and the `Received:` header.
        public var queueID: String
        /// The sysexits(3) status a sendmail command exits with: 0, 64 usage, 65 data error,
        /// 67 no such user, 75 try again later.
        public var exitCode: Int32
        /// True when recipients in other domains went into the outbound queue (durably): a running server
        /// should be asked to pick it up (``ControlRequest/pickup``), as `postoffice sendmail` does.
        public var isQueuedForOtherDomains: Bool = false

        /// True when every recipient got the message.
        public var isDelivered: Bool { statusCode.statusClass == 2 }
    }

    /// Submits one message read from `descriptor` (standard input for `sendmail`) until its end, or until
    /// a line holding only `.` unless ``SubmitOptions/dotEndsInput`` is false. The message may use LF or CRLF.
    ///
    /// Like an SMTP `250`, a delivered result means every copy is on stable storage; on any failure
    /// nothing is stored. `Date:`, `From:` (from `sender` and ``SubmitOptions/fullName``) and `Message-ID:`
    /// are added when missing and `Bcc:` is removed (RFC 6409 §8). Memory does not grow with the message:
    /// the header block is held (1 MiB at most, else 5.3.4 / exit 65), the body streams.
    ///
    /// Works without ``start()``: the server's users, aliases and Maildir layout are enough.
    /// - Parameters:
    ///   - sender: the envelope sender (`Return-Path:`); nil is the null sender `<>`.
    ///   - recipients: the envelope recipients; may be empty only with ``SubmitOptions/extractsRecipients``.
    ///     Recipients in other domains go into the outbound queue with `deliver_outbound`, committed with the
    ///     local copies before the result (a running server tries them at once, else at its next queue run);
    ///     without it they are refused (4.4.0, exit 75): see ``otherDomainsRefusal(_:)``.
    public func submit(
        from sender: MailAddress?, to recipients: [MailAddress], options: SubmitOptions = SubmitOptions(),
        readingFrom descriptor: Int32
    ) -> SubmitResult {
        submit(from: sender, to: recipients, options: options, read: SendmailSubmission.reader(descriptor: descriptor))
    }

    /// Submits one message given as bytes; see ``submit(from:to:options:readingFrom:)``.
    public func submit(
        from sender: MailAddress?, to recipients: [MailAddress], options: SubmitOptions = SubmitOptions(), message: [UInt8]
    ) -> SubmitResult {
        var offset = 0
        return submit(from: sender, to: recipients, options: options) { (buffer: UnsafeMutableRawBufferPointer) throws(DeliveryError) -> Int in
            let count = min(buffer.count, message.count - offset)
            message.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + count)]))
            }
            offset += count
            return count
        }
    }

    /// The domain a bare name (`root`, `sendmail -f www-data`) is qualified with: the host name when it is
    /// a local domain, else `localhost` when that is local (as the `postoffice` tool always makes it).
    public var submissionDomain: String {
        SendmailSubmission(agent: context.deliveryAgent, remoteRecipients: Self.otherDomainsRefusal).bareNameDomain
    }

    /// What happens to recipients in other domains without `deliver_outbound`: a temporary failure (4.4.0,
    /// sysexits 75) that names the setting, so the calling program keeps the message and can try again.
    static func otherDomainsRefusal(_ recipients: [MailAddress]) -> DeliveryError {
        let names = recipients.prefix(3).map(\.description).joined(separator: ", ") + (recipients.count > 3 ? ", ..." : "")
        return DeliveryError(
            EnhancedStatusCode(4, 4, 0),
            "cannot send to other domains: outbound delivery is off (deliver_outbound = no) (\(LogRecord.escape(names)))")
    }

    /// The outbound queue for sendmail's remote recipients, when this server delivers outbound; `committed`
    /// is set once a message is durably queued.
    private func sendmailQueue(committed: CommitFlag) -> SendmailQueueOpener? {
        guard let store = context.sinks.queue else { return nil }
        let logSink = context.environment.logSink
        let signal = context.sinks.queued
        let isServing: Bool = state.lock.withLock { !state.listeners.isEmpty }
        let onCommit: @Sendable (QueueCommit?) -> Void = { commit in
            committed.set()
            if isServing { signal.fire(commit) }
        }
        let opener: SendmailQueueOpener = { sender, recipients, trace, date in
            QueueSendmailDraft(
                store: store, sender: sender, recipients: recipients, trace: trace, date: date, logSink: logSink,
                onCommit: onCommit)
        }
        return opener
    }

    private func submit(
        from sender: MailAddress?, to recipients: [MailAddress], options: SubmitOptions, read: SendmailSubmission.Reader
    ) -> SubmitResult {
        let committed = CommitFlag()
        let engine = SendmailSubmission(
            agent: context.deliveryAgent, remoteRecipients: Self.otherDomainsRefusal, queue: sendmailQueue(committed: committed),
            signer: context.dkimKeys, spoolDirectory: context.sinks.spoolDirectory)
        let outcome = engine.run(
            sender: sender, recipients: recipients,
            options: SendmailSubmission.Options(
                extractsRecipients: options.extractsRecipients, dotEndsInput: options.dotEndsInput, fullName: options.fullName),
            read: read)
        return SubmitResult(
            statusCode: outcome.statusCode, reason: outcome.reason, recipients: outcome.recipients, queueID: outcome.queueID,
            exitCode: outcome.exitCode, isQueuedForOtherDomains: committed.isSet)
    }
}

/// Set by the queue's commit callback, read after the submission returns.
final class CommitFlag: @unchecked Sendable {
    private let lock = Lock()
    private var value = false

    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
