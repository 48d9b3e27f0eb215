// DSNExplanation: the human-readable first part of a report — what happened, per recipient, with the
// remote server's own words, and what the sender can do. Plain English, wrapped at 78 columns.

import PostOfficeCore

/// Writes the `text/plain` part of a report
/// ([RFC 6522 §3](https://www.rfc-editor.org/rfc/rfc6522#section-3): "a human-readable explanation").
enum DSNExplanation {
    /// The text, as lines without line ends.
    static func lines(
        kind: DSNReportKind, hostname: String, entries: [(DSNRecipient, DSNOutcome)], returned: DSNReturnContent
    ) -> [String] {
        var out = ["This is the mail system at \(hostname).", ""]
        func paragraph(_ text: String) {
            out += DSNText.wrap(text)
            out.append("")
        }
        switch kind {
        case .failure:
            paragraph(
                "Your message could not be delivered to the recipients below. This is a permanent error: "
                    + "sending the same message again will fail the same way until the problem is fixed.")
        case .delay:
            paragraph(
                "Your message has not been delivered yet to the recipients below. The mail system is still "
                    + "trying; you do not need to send it again. If it gives up, you will get another message.")
        case .success:
            paragraph("Your message was delivered as you asked to be told:")
        case .doubleBounce:
            paragraph(
                "A delivery report (a message with the empty sender <>) could not be delivered, and it has no "
                    + "sender to return it to. You get this notice as the postmaster; if this notice cannot be "
                    + "delivered either, it is dropped.")
        }
        for (recipient, outcome) in entries {
            out += DSNText.wrap(describe(recipient.address, outcome), indent: "    ")
            out.append("")
        }
        switch kind {
        case .failure:
            paragraph(
                "What you can do: check each address for typing mistakes and read the server's reply above; "
                    + "if the address is right, reach the recipient another way and tell them.")
        case .delay:
            paragraph("What you can do: nothing yet. If the message is urgent, reach the recipient another way.")
        case .success, .doubleBounce:
            break
        }
        let what = returned == .full ? "the original message" : "the headers of the original message"
        paragraph("A machine-readable report and \(what) follow.")
        return out
    }

    /// One recipient's paragraph: the address, what happened, and the server's reply.
    static func describe(_ address: MailAddress, _ outcome: DSNOutcome) -> String {
        let who = "<\(address)>:"
        guard let attempt = outcome.attempt else { return who + " no report." }
        let reply = attempt.reply.map(DSNComposer.diagnosticText) ?? ""
        let said: String
        if let remote = attempt.remoteMTA, !reply.isEmpty {
            said = " The server \(DSNText.sanitized(remote)) replied: \(reply)"
        } else if !reply.isEmpty {
            said = " Reason: \(reply)"
        } else {
            said = ""
        }
        switch outcome {
        case .pending:
            return who + " no report."
        case .failed, .delayed:
            let hint = hint(attempt.status).map { $0 + " " } ?? ""
            var text = "\(who) \(hint)(\(attempt.status)).\(said)"
            if case .delayed(_, let until?, _) = outcome {
                text += " Next attempts until \(DSNDate.format(until))."
            }
            return text
        case .delivered:
            return "\(who) delivered to the mailbox.\(said)"
        case .relayed(_, _):
            let hop = attempt.remoteMTA.map { " to " + DSNText.sanitized($0) } ?? ""
            let replied = reply.isEmpty ? "" : ", which replied: \(reply)."
            return "\(who) handed on\(hop)\(replied.isEmpty ? "." : replied) That server does not send delivery "
                + "reports, so this is the last report you will get about this recipient."
        case .expanded:
            return "\(who) an alias or mailing list; the message was passed on to its members."
        }
    }

    /// What an RFC 3463 code means, in words, for the common cases.
    static func hint(_ status: EnhancedStatusCode) -> String? {
        switch (status.subject, status.detail) {
        case (1, 1): "the mailbox does not exist"
        case (1, 2): "the domain does not exist or takes no mail"
        case (1, _): "the address was not accepted"
        case (2, 1): "the mailbox is disabled"
        case (2, 2): "the mailbox is full"
        case (2, 3), (3, 4): "the message is too large"
        case (2, _): "the mailbox is not available"
        case (4, 1), (4, 2): "the receiving server did not answer or broke the connection"
        case (4, 4): "no mail server was found for the domain"
        case (4, 7): "delivery took too long and the mail system gave up"
        case (4, _): "the network or routing failed"
        case (7, _): "the receiving server refused it by policy"
        default: nil
        }
    }
}
