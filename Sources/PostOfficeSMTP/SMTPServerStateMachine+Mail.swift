// SMTPServerStateMachine+Mail: the MAIL and RCPT commands that build a transaction's envelope.
// Both pause the engine for the driver's check (checkSender, checkRecipient) until the resolve call.

import PostOfficeCore

extension SMTPServerStateMachine {
    /// MAIL FROM ([RFC 5321 §4.1.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.2)).
    mutating func mail(_ reversePath: MailAddress?, _ parameters: MailParameters, _ out: inout [SMTPAction]) {
        guard heloName != nil else { return reply(needHello, &out) }
        guard transaction == nil else { return reply(.nestedMail, &out) }
        // Submission (RFC 6409 §4.3, RFC 4954 §6): no mail before AUTH.
        guard !configuration.requiresAuthentication || authenticatedIdentity != nil else {
            return reply(.authenticationRequired, &out)
        }
        pending = .sender(reversePath, parameters)
        out.append(.checkSender(reversePath, parameters))
    }

    /// RCPT TO ([RFC 5321 §4.1.1.3](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.3)), up to
    /// `limits.maximumRecipients` accepted recipients.
    mutating func recipient(_ address: MailAddress, _ parameters: RecipientParameters, _ out: inout [SMTPAction]) {
        guard transaction != nil else { return reply(.needMail, &out) }
        guard transaction?.messageState == .notBegun else { return reply(.badSequence, &out) }
        transaction?.recipientAttempts += 1
        guard (transaction?.recipients.count ?? 0) < configuration.limits.maximumRecipients else {
            return reply(.tooManyRecipients, &out)
        }
        pending = .recipient(address, parameters)
        out.append(.checkRecipient(address, parameters))
    }
}
