// PostOfficeHooks: the embedder's say in a server's decisions — which recipients exist, who may log in,
// where a message goes — and a callback for each delivery. Every hook is optional; nil means the default.

import PostOfficeCore

/// Callbacks an embedder can plug into a ``PostOfficeServer``.
///
/// Hooks may block (a database look-up): they run on the server's storage pool while their session waits,
/// never on an event loop, so a slow hook delays only its own session. They are called from many sessions
/// at once, so they must be thread-safe.
///
/// ```swift
/// var hooks = PostOfficeHooks()
/// hooks.checkRecipient = { request in
///     request.recipient.localPart == "blackhole" ? .reject(code: 550, enhancedCode: "5.1.1", text: "No such user") : .useDefault
/// }
/// hooks.messageDelivered = { report in print("stored", report.files) }
/// ```
public struct PostOfficeHooks: Sendable {
    /// Decides each MAIL FROM ([RFC 5321 §4.1.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.2)).
    /// Default: every sender is accepted (we deliver only to local users; relaying is refused per recipient).
    public var checkSender: (@Sendable (SenderRequest) -> SenderDecision)?
    /// Decides each RCPT ([RFC 5321 §4.1.1.3](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.3)).
    /// Default: the configured users, aliases and domains.
    public var checkRecipient: (@Sendable (RecipientRequest) -> RecipientDecision)?
    /// Checks a login (POP3 and SMTP AUTH). Return the mailbox address, or nil to refuse.
    /// Throw when you cannot decide now (your user database is down): the client gets a temporary failure,
    /// SMTP 454 4.7.0 ([RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)) or POP3
    /// `-ERR [SYS/TEMP]`, instead of a wrong-password answer, and the attempt is not counted as a failed
    /// login by the throttle. Default: the users file.
    public var authenticate: (@Sendable (LoginRequest) throws -> MailAddress?)?
    /// Takes over delivery: called after the final dot with the message spooled in a file. Return
    /// ``DeliveryVerdict/accepted`` only when the message is safely stored. Default: Maildir delivery.
    public var deliver: (@Sendable (ReceivedMessage) -> DeliveryVerdict)?
    /// Called after each message has been durably delivered and before the 250 reply is sent.
    public var messageDelivered: (@Sendable (DeliveryReport) -> Void)?
    /// Sees each delivery status notification before it is queued (a failure, delay or success report, or
    /// a notice to the postmaster; [RFC 3464](https://www.rfc-editor.org/rfc/rfc3464)) and decides:
    /// ``ReportDecision/send`` it as made, ``ReportDecision/send(text:)`` with your own wording of the
    /// human-readable part (the `message/delivery-status` part and the original stay as the server made
    /// them), or ``ReportDecision/suppress(reason:)`` it (nothing is sent, the reason is logged as
    /// `report.suppressed`, and the recipients count as reported: nothing retries). Runs on the storage pool,
    /// never on an event loop. A hook that throws is logged (`report.hook_failed`) and the report is sent
    /// unchanged. Default: every report is sent as made.
    public var checkReport: (@Sendable (OutgoingReport) throws -> ReportDecision)?
    /// Called once for each delivery status notification the server has queued, after ``checkReport``
    /// (a suppressed report is not queued). Runs on the storage pool, never on an event loop; it observes.
    public var reportQueued: (@Sendable (QueuedReport) -> Void)?

    public init() {}
}

/// A MAIL command to decide.
public struct SenderRequest: Sendable {
    /// nil for the null reverse-path `<>` (bounces).
    public var reversePath: MailAddress?
    public var client: SocketAddress
    public var heloName: String
}

/// The answer to a ``SenderRequest``.
public enum SenderDecision: Sendable, Equatable {
    case accept
    /// Refuse with this reply, such as 550 5.7.1 or 451 4.7.1.
    case reject(code: Int, enhancedCode: String, text: String)
}

/// A RCPT command to decide.
public struct RecipientRequest: Sendable {
    public var recipient: MailAddress
    /// nil for the null reverse-path `<>`.
    public var reversePath: MailAddress?
    public var client: SocketAddress
    public var heloName: String
}

/// The answer to a ``RecipientRequest``.
public enum RecipientDecision: Sendable, Equatable {
    /// Use the configured users and aliases.
    case useDefault
    /// Accept, delivering into the Maildir of this local user (it need not be in the users file).
    case accept(mailbox: MailAddress)
    /// Accept for another server: the message is forwarded (relayed) to the recipient's domain. Until the
    /// outbound queue exists such a recipient is refused with 451 4.3.0, and the client tries again later.
    case relay
    /// Refuse with this reply, such as 550 5.1.1.
    case reject(code: Int, enhancedCode: String, text: String)
}

/// A POP3 login attempt.
public struct LoginRequest: Sendable {
    public var login: String
    public var password: String
    public var client: SocketAddress
}

/// A message handed to a custom ``PostOfficeHooks/deliver`` hook.
public struct ReceivedMessage: Sendable {
    public var sessionID: String
    /// nil for `<>`.
    public var reversePath: MailAddress?
    public var recipients: [MailAddress]
    /// A file holding the message exactly as received (dot-unstuffed, CRLF line endings, no trace
    /// headers added). It is removed after the hook returns: copy or move it if it must live on.
    public var path: String
    public var size: Int
}

/// The outcome of a custom delivery.
public enum DeliveryVerdict: Sendable, Equatable {
    case accepted
    /// 4xx: the client should try again later.
    case temporaryFailure(String)
    /// 5xx: the client should give up.
    case permanentFailure(String)
}

/// What was delivered, reported through ``PostOfficeHooks/messageDelivered``.
public struct DeliveryReport: Sendable {
    public var sessionID: String
    public var reversePath: MailAddress?
    public var recipients: [MailAddress]
    /// The Maildir files written, one per distinct mailbox (full paths).
    public var files: [String]
    public var size: Int
}

/// A delivery status notification the server queued (``PostOfficeHooks/reportQueued``).
public struct QueuedReport: Sendable, Hashable {
    /// What the report says: `failure`, `delay`, `success` or `double-bounce` (``OutgoingReport/Kind``).
    public var kind: String
    /// Where it goes: the original sender, or the postmaster for a double bounce.
    public var to: MailAddress
    /// The queue ID of the message it reports on.
    public var aboutQueueID: String
    /// The report's own queue ID; empty when it went straight into a local sender's Maildir (a `delivered`
    /// report without the outbound queue).
    public var reportQueueID: String
    /// The original recipients it covers.
    public var recipients: [MailAddress]
}

/// A delivery status notification about to be queued, for ``PostOfficeHooks/checkReport``
/// ([RFC 3461](https://www.rfc-editor.org/rfc/rfc3461), [RFC 3464](https://www.rfc-editor.org/rfc/rfc3464)).
public struct OutgoingReport: Sendable, Hashable {
    /// Which report it is.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Permanent failures, to the sender ("Undelivered Mail Returned to Sender").
        case failure
        /// The one warning that delivery is late (`delay_warning_time`), to the sender.
        case delay
        /// `delivered` or `relayed`, to a sender who asked with NOTIFY=SUCCESS.
        case success
        /// A report that could not be delivered, to the postmaster.
        case doubleBounce = "double-bounce"
    }

    /// One recipient the report covers, with what the delivery-status part says of it.
    public struct Recipient: Sendable, Hashable {
        public var address: MailAddress
        /// `failed`, `delayed`, `delivered`, `relayed` or `expanded` (RFC 3464 §2.3.3).
        public var action: String
        /// The enhanced status code, such as `5.1.1` ([RFC 3463](https://www.rfc-editor.org/rfc/rfc3463)).
        public var status: String
        /// The server that answered, when there was one.
        public var remoteMTA: String?
        /// The reply or local reason (the `Diagnostic-Code`), when there is one.
        public var diagnostic: String?
    }

    public var kind: Kind
    /// Where the report goes: the original sender, or the postmaster for a double bounce.
    public var to: MailAddress
    /// The original message's envelope sender; nil for `<>` (the original was itself a report).
    public var sender: MailAddress?
    /// The original message's `Message-ID` field (`<id@host>`), when it has one.
    public var originalMessageID: String?
    /// The queue ID of the original message (in the server's log lines).
    public var queueID: String
    /// The recipients the report covers, in envelope order.
    public var recipients: [Recipient]
    /// The human-readable part's text as the server wrote it (lines separated by LF).
    public var text: String
}

/// What ``PostOfficeHooks/checkReport`` decides for one report.
public struct ReportDecision: Sendable, Hashable {
    enum Action: Sendable, Hashable {
        case send(text: String?)
        case suppress(reason: String)
    }

    let action: Action

    /// Send the report as the server made it.
    public static let send = ReportDecision(action: .send(text: nil))

    /// Send the report with `text` as its human-readable part (LF or CRLF line ends; UTF-8 is sent as
    /// 8-bit). Only that part changes: the delivery-status part and the original stay machine-made.
    public static func send(text: String) -> ReportDecision { ReportDecision(action: .send(text: text)) }

    /// Send nothing. `reason` goes in the `report.suppressed` log line; the recipients count as reported.
    public static func suppress(reason: String) -> ReportDecision { ReportDecision(action: .suppress(reason: reason)) }
}
