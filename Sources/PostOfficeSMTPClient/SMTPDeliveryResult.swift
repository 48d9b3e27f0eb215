// SMTPDeliveryResult: a classified outcome, with everything a bounce or DSN needs later: the reply, its
// enhanced code (made up from the class when the server gave none) and the stage it answered.

import PostOfficeCore
import PostOfficeSMTP

/// The classified outcome for a recipient, a message or a session. Build it with
/// ``SMTPErrorClassification/result(of:at:isFinalHost:)``.
public struct SMTPDeliveryResult: Hashable, Sendable {
    /// What the queue should do.
    public var disposition: SMTPDisposition
    /// Where it happened.
    public var stage: SMTPClientStage
    /// What happened.
    public var cause: SMTPFailureCause
    /// The [RFC 3463](https://www.rfc-editor.org/rfc/rfc3463) code for the DSN's Status field; its class always
    /// matches ``disposition`` (2 delivered, 4 deferred or next host, 5 failed).
    public var enhancedCode: EnhancedStatusCode

    public init(
        disposition: SMTPDisposition, stage: SMTPClientStage, cause: SMTPFailureCause, enhancedCode: EnhancedStatusCode
    ) {
        self.disposition = disposition
        self.stage = stage
        self.cause = cause
        self.enhancedCode = enhancedCode
    }

    /// The server's reply, when a reply decided.
    public var reply: SMTPReply? {
        if case .reply(let reply) = cause { return reply }
        return nil
    }

    /// Human-readable text for logs and the DSN's Diagnostic-Code: the reply as received, or the reason.
    public var text: String {
        switch cause {
        case .reply(let reply): reply.description
        case .connectionLost: "connection lost"
        case .timedOut: "timed out waiting for the server"
        case .protocolViolation(let reason), .local(_, let reason): reason
        }
    }
}
