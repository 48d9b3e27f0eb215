// DeliveryOutcome+SMTP: the reply a commit earns after DATA or the last BDAT chunk (LMTP: per recipient). Storage
// speaks DeliveryOutcome (RFC 3463 codes); this maps it onto RFC 5321 reply codes.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeSMTP

extension DeliveryOutcome {
    /// The SMTP engine's decision for this outcome: 250 when delivered; 452 for storage shortages (4.2.2
    /// mailbox full, 4.3.1 disk full; RFC 5321 §4.2.2), else 451; 552 for a message too big (5.3.4) or a
    /// mailbox over its limit (5.2.x, quota), 550 for a mailbox that does not exist (5.1.x, LMTP's per-recipient
    /// replies) or a security or policy refusal (5.7.x, RFC 7372 / RFC 7489 §6.7), else 554.
    var smtpDecision: SMTPDecision {
        switch self {
        case .delivered:
            return .accept
        case .temporaryFailure(let code, let text):
            let storage = code.subject == 2 || code == EnhancedStatusCode(4, 3, 1)
            return .reject(SMTPReply(storage ? 452 : 451, code, text))
        case .permanentFailure(let code, let text):
            // 552: exceeded storage allocation (RFC 5321 §4.2.3) — too big, or over quota (5.2.2, RFC 3463 §3.3).
            let storage = code == EnhancedStatusCode(5, 3, 4) || code.subject == 2
            let reply = storage ? 552 : code.subject == 1 || code.subject == 7 ? 550 : 554
            return .reject(SMTPReply(reply, code, text))
        }
    }
}
