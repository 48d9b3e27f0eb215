// SMTPErrorClassification: THE error-class table of the SMTP client. Every result the engine reports goes
// through `result(of:at:isFinalHost:)`; each rule says why. Change policy here, nowhere else.

import PostOfficeCore
import PostOfficeSMTP

/// Maps what happened (``SMTPFailureCause``) and where (``SMTPClientStage``) to what the queue does
/// (``SMTPDisposition``), following [RFC 5321 §4.2.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1)
/// and [§4.5.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.4).
public enum SMTPErrorClassification {
    /// The disposition for `cause` at `stage`; `isFinalHost` is false while other MX hosts remain.
    public static func disposition(
        of cause: SMTPFailureCause, at stage: SMTPClientStage, isFinalHost: Bool
    ) -> SMTPDisposition {
        let basic: SMTPDisposition
        switch cause {
        case .reply(let reply):
            // The basic code decides, never the enhanced code: a 451 with 5.7.1 in its text is temporary
            // (RFC 3463 §2 says the class must agree; when it does not, the reply code wins, maddy#422).
            switch reply.code / 100 {
            case 2: basic = .delivered
            case 5: basic = .failed
            // 4xx is temporary; a 3xx where a 2xx was due is a confused server, not a verdict: retry.
            default: basic = .deferred
            }
            // 421 or 5xx greeting: this host refuses service, not our message; another MX may accept.
            // On the last host even a 5xx greeting only defers (Postfix's smtp_skip_5xx_greeting).
            if stage == .greeting, basic != .delivered {
                return isFinalHost ? .deferred : .tryNextHost
            }
            // AUTH refused is our smarthost configuration's problem, not the message's: keep the mail
            // queued until the credentials are fixed (issue 14).
            if stage == .authentication, basic == .failed {
                return isFinalHost ? .deferred : .tryNextHost
            }
            // A refused RSET on a reused connection says the session is out of step, not that the next
            // message is bad: the message waits for a fresh connection instead of bouncing.
            if stage == .reset, basic == .failed { return .deferred }
        // The connection dropped (mid-DATA included) or went silent: nothing was decided, retry.
        case .connectionLost, .timedOut: basic = .deferred
        // Garbage from the server: nothing was decided either.
        case .protocolViolation: basic = .deferred
        // Our own checks carry their class: 5.3.4 too big and 5.6.7 no SMTPUTF8 are permanent,
        // 4.7.10 TLS required is temporary.
        case .local(let code, _): basic = code.isPermanent ? .failed : .deferred
        }
        // A soft error before any transaction is the host's: another MX may do better (RFC 5321 §5.1).
        if basic == .deferred, stage.isSessionStage, !isFinalHost { return .tryNextHost }
        // RCPT 5xx fails that recipient only, 4xx defers it; after DATA 5xx fails and 4xx defers every
        // accepted recipient: the engine applies the disposition to the recipients the stage concerns.
        return basic
    }

    /// The full result: disposition plus the enhanced code for the DSN.
    public static func result(of cause: SMTPFailureCause, at stage: SMTPClientStage, isFinalHost: Bool)
        -> SMTPDeliveryResult
    {
        let disposition = disposition(of: cause, at: stage, isFinalHost: isFinalHost)
        return SMTPDeliveryResult(
            disposition: disposition, stage: stage, cause: cause,
            enhancedCode: enhancedCode(of: cause, disposition: disposition))
    }

    /// The server's enhanced code, else one read from a text whose class disagrees (451 5.7.1 → 4.7.1), else
    /// X.0.0; its class is set to the disposition's so a DSN never contradicts itself (RFC 3464 §2.3.4).
    static func enhancedCode(of cause: SMTPFailureCause, disposition: SMTPDisposition) -> EnhancedStatusCode {
        let statusClass =
            switch disposition {
            case .delivered: 2
            case .deferred, .tryNextHost: 4
            case .failed: 5
            }
        let code: EnhancedStatusCode
        switch cause {
        case .reply(let reply):
            let fromText = reply.lines.first?.split(separator: " ", maxSplits: 1).first
                .flatMap { EnhancedStatusCode(String($0)) }
            code = reply.enhancedCode ?? fromText ?? EnhancedStatusCode(statusClass, 0, 0)
        // RFC 3463 X.4.2: bad connection (dropped or silent).
        case .connectionLost, .timedOut: code = EnhancedStatusCode(4, 4, 2)
        // RFC 3463 X.5.0: other or undefined protocol status.
        case .protocolViolation: code = EnhancedStatusCode(4, 5, 0)
        case .local(let local, _): code = local
        }
        return EnhancedStatusCode(statusClass, code.subject, code.detail)
    }
}
