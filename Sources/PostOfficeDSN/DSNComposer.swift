// DSNComposer: builds a report for a DSNPlan — header fields, the explanation, the message/delivery-status
// fields — as a DSNReport whose third part the caller streams. Pure: time and randomness come in.

import PostOfficeCore

/// Composes delivery status notifications: `multipart/report; report-type=delivery-status`
/// ([RFC 6522](https://www.rfc-editor.org/rfc/rfc6522)) with a `text/plain` explanation, a
/// `message/delivery-status` part ([RFC 3464](https://www.rfc-editor.org/rfc/rfc3464)) and the original
/// as `message/rfc822` or `text/rfc822-headers`.
///
/// The boundary is `=_dsn_` and 32 random hex digits. `=_` cannot occur in base64, nor in quoted-printable
/// (where `=` is followed by hex digits or a line end), and the random part (128 bits from the injected
/// ``RandomSource``) cannot be guessed by whoever wrote the original; ``DSNOriginalEncoder`` still defuses
/// a line that starts with it.
public struct DSNComposer: Hashable, Sendable {
    /// This server's name: `Reporting-MTA`, the `MAILER-DAEMON@` sender and the Message-ID's domain.
    public var hostname: String
    /// Without RET=, a failure report returns the whole message up to this many bytes and only its
    /// headers above (RFC 3461 §4.3 leaves the choice to the server). RET=FULL is always honoured.
    public var returnSizeLimit: Int

    public init(hostname: String, returnSizeLimit: Int = 1 << 20) {
        self.hostname = hostname
        self.returnSizeLimit = returnSizeLimit
    }

    /// What the third part carries for a report of `kind` about `envelope`
    /// ([RFC 3461 §4.3](https://www.rfc-editor.org/rfc/rfc3461#section-4.3)): RET=FULL the message, RET=HDRS
    /// the headers, no RET the message up to ``returnSizeLimit``. Reports without a failure (delay,
    /// success) carry headers only, as §4.3 asks.
    public func content(for kind: DSNReportKind, envelope: DSNEnvelope) -> DSNReturnContent {
        switch kind {
        case .delay, .success: return .headers
        case .failure, .doubleBounce:
            if let requested = envelope.returnRequest { return requested }
            return envelope.messageSize <= returnSizeLimit ? .full : .headers
        }
    }

    /// The report for `plan`. `outcomes[i]` belongs to `envelope.recipients[i]`; `date` is the report's
    /// Date; `random` makes the Message-ID and boundary. Say `originalIs8Bit` when the original was
    /// received as 8BITMIME or SMTPUTF8: the third part is then declared `8bit` (the head is written
    /// before the original is read, so it cannot be looked at first).
    ///
    /// `explanation` replaces the human-readable part's text (an embedder's rewording); its line ends may
    /// be LF or CRLF. The delivery-status part and the original are made as always.
    public func compose(
        _ plan: DSNPlan, envelope: DSNEnvelope, outcomes: [DSNOutcome], date: MailTime,
        random: any RandomSource, originalIs8Bit: Bool = false, explanation replacement: String? = nil
    ) -> DSNReport {
        let explanation = replacement.map(Self.lines(of:)) ?? self.explanation(plan, envelope: envelope, outcomes: outcomes)
        var boundary = "=_dsn_" + random.token(length: 16) + random.token(length: 16)
        // Replaced text could hold the boundary only by chance (it is drawn after the text is known).
        while explanation.contains(where: { $0.contains(boundary) }) {
            boundary = "=_dsn_" + random.token(length: 16) + random.token(length: 16)
        }
        let messageID = "<" + random.token(length: 24) + "@" + hostname + ">"
        let content = content(for: plan.kind, envelope: envelope)
        let entries = self.entries(plan, envelope: envelope, outcomes: outcomes)
        let explanationIs8Bit = !explanation.allSatisfy(DSNText.isASCII)
        let recipientText = "\(plan.to)"
        let requiresSMTPUTF8 = !DSNText.isASCII(recipientText) || !DSNText.isASCII(hostname)
        let requires8Bit = explanationIs8Bit || originalIs8Bit || requiresSMTPUTF8

        var head = ""
        head += "From: Mail Delivery System <MAILER-DAEMON@\(hostname)>\r\n"
        head += DSNText.field("To", recipientText)
        head += "Subject: \(plan.kind.subject)\r\n"
        head += "Date: \(DSNDate.format(date))\r\n"
        head += "Message-ID: \(messageID)\r\n"
        head += "MIME-Version: 1.0\r\n"
        head += "Auto-Submitted: auto-replied\r\n"  // RFC 3834 §5: no auto-replies to this
        head += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"\(boundary)\"\r\n"
        if requires8Bit { head += "Content-Transfer-Encoding: 8bit\r\n" }
        head += "\r\nThis is a MIME-encapsulated message.\r\n"

        head += "\r\n--\(boundary)\r\n"
        head += "Content-Description: Notification\r\n"
        head += "Content-Type: text/plain; charset=\(explanationIs8Bit ? "utf-8" : "us-ascii")\r\n"
        head += "Content-Transfer-Encoding: \(explanationIs8Bit ? "8bit" : "7bit")\r\n\r\n"
        var lines = explanation
        while lines.last == "" { lines.removeLast() }
        head += lines.map { $0 + "\r\n" }.joined()

        head += "\r\n--\(boundary)\r\n"
        head += "Content-Description: Delivery report\r\n"
        head += "Content-Type: message/delivery-status\r\n\r\n"
        head += perMessageFields(envelope)
        for (recipient, outcome) in entries {
            head += "\r\n" + perRecipientFields(recipient, outcome)
        }

        head += "\r\n--\(boundary)\r\n"
        switch content {
        case .full:
            head += "Content-Description: \(plan.kind == .failure || plan.kind == .doubleBounce ? "Undelivered" : "Original") Message\r\n"
            head += "Content-Type: message/rfc822\r\n"
        case .headers:
            head += "Content-Description: Message Headers\r\n"
            head += "Content-Type: text/rfc822-headers\r\n"
        }
        // message/rfc822 allows only 7bit, 8bit or binary (RFC 2046 §5.2.1).
        head += "Content-Transfer-Encoding: \(originalIs8Bit ? "8bit" : "7bit")\r\n\r\n"

        return DSNReport(
            recipient: plan.to, kind: plan.kind, messageID: messageID, boundary: boundary, content: content,
            head: Array(head.utf8), tail: Array("\r\n--\(boundary)--\r\n".utf8),
            requires8BitMIME: requires8Bit, requiresSMTPUTF8: requiresSMTPUTF8)
    }

    /// The human-readable part's text for `plan`, as lines without line ends.
    public func explanation(_ plan: DSNPlan, envelope: DSNEnvelope, outcomes: [DSNOutcome]) -> [String] {
        DSNExplanation.lines(
            kind: plan.kind, hostname: hostname, entries: entries(plan, envelope: envelope, outcomes: outcomes),
            returned: content(for: plan.kind, envelope: envelope))
    }

    /// The recipients `plan` covers that have something to report, with their outcomes.
    func entries(_ plan: DSNPlan, envelope: DSNEnvelope, outcomes: [DSNOutcome]) -> [(DSNRecipient, DSNOutcome)] {
        plan.recipients.compactMap { i in
            guard envelope.recipients.indices.contains(i), i < outcomes.count, outcomes[i].action != nil else {
                return nil
            }
            return (envelope.recipients[i], outcomes[i])
        }
    }

    /// Text from outside as lines: split at CRLF, LF or CR; control characters other than tab become `?`
    /// (no NUL or bare CR in a text/plain part); a line is cut at the hard limit of 998 octets.
    static func lines(of text: String) -> [String] {
        var lines: [String] = []
        var line = String.UnicodeScalarView()
        var afterCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" && afterCR {
                afterCR = false
                continue
            }
            afterCR = scalar == "\r"
            if scalar == "\n" || scalar == "\r" {
                lines.append(String(line))
                line = String.UnicodeScalarView()
            } else if scalar.value < 0x20 && scalar != "\t" || scalar.value == 0x7F {
                line.append("?")
            } else {
                line.append(scalar)
            }
        }
        lines.append(String(line))
        return lines.flatMap(DSNText.cutAtHardLimit)
    }

    /// RFC 3464 §2.2: Original-Envelope-Id, Reporting-MTA, Arrival-Date.
    func perMessageFields(_ envelope: DSNEnvelope) -> String {
        var out = ""
        if let envid = envelope.envelopeID {
            out += DSNText.field("Original-Envelope-Id", Self.decodedXText(envid))
        }
        out += DSNText.field("Reporting-MTA", "dns; " + DSNText.sanitized(hostname))
        out += DSNText.field("Arrival-Date", DSNDate.format(envelope.arrival))
        return out
    }

    /// RFC 3464 §2.3, in its order: Original-Recipient, Final-Recipient, Action, Status, Remote-MTA,
    /// Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until.
    func perRecipientFields(_ recipient: DSNRecipient, _ outcome: DSNOutcome) -> String {
        guard let action = outcome.action, let attempt = outcome.attempt else { return "" }
        var out = ""
        if let orcpt = recipient.originalRecipient, let semicolon = orcpt.firstIndex(of: ";") {
            let type = DSNText.sanitized(String(orcpt[..<semicolon])).trimmingSpaces
            let address = Self.decodedXText(String(orcpt[orcpt.index(after: semicolon)...]))
            out += DSNText.field("Original-Recipient", type + ";" + address)
        }
        out += DSNText.field("Final-Recipient", Self.addressField(recipient.address))
        out += DSNText.field("Action", action.rawValue)
        out += DSNText.field("Status", attempt.status.description)
        if let remote = attempt.remoteMTA {
            out += DSNText.field("Remote-MTA", "dns; " + DSNText.sanitized(remote))
        }
        if let reply = attempt.reply {
            let text = Self.diagnosticText(reply)
            if !text.isEmpty {
                out += DSNText.field("Diagnostic-Code", (Self.isSMTPReply(text) ? "smtp; " : "X-PostOffice; ") + text)
            }
        }
        if let date = attempt.date {
            out += DSNText.field("Last-Attempt-Date", DSNDate.format(date))
        }
        if case .delayed(_, let until?, _) = outcome {
            out += DSNText.field("Will-Retry-Until", DSNDate.format(until))
        }
        return out
    }

    /// A reply of several lines (`550-5.7.1 a` CRLF `550 5.7.1 b`) as one line, `550 5.7.1 a b`: the
    /// code and a repeated enhanced code are dropped from the continuation lines; then made printable.
    static func diagnosticText(_ reply: String) -> String {
        let lines = reply.split(whereSeparator: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" })
        var parts: [Substring] = []
        var enhanced: Substring?
        for (n, var line) in lines.enumerated() {
            let hasCode = isSMTPReply(String(line.prefix(4)))
            if n == 0 {
                if hasCode, line.count > 3 {  // "550-text" starts a multi-line reply: show it as "550 text"
                    line = line.prefix(3) + " " + line.dropFirst(4)
                }
                if hasCode, let token = line.dropFirst(4).split(separator: " ").first,
                    EnhancedStatusCode(String(token)) != nil
                {
                    enhanced = token
                }
            } else {
                if hasCode { line = line.dropFirst(4) }
                if let enhanced, line.hasPrefix(enhanced + " ") { line = line.dropFirst(enhanced.count + 1) }
            }
            parts.append(line)
        }
        return DSNText.sanitized(parts.joined(separator: " ")).trimmingSpaces
    }

    /// True when text starts with an SMTP reply code (`2xx`…`5xx`).
    static func isSMTPReply(_ text: String) -> Bool {
        let head = Array(text.utf8.prefix(4))
        guard head.count >= 3, (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(head[0]),
            head[1...2].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return false }
        return head.count == 3 || head[3] == UInt8(ascii: " ") || head[3] == UInt8(ascii: "-")
    }

    /// xtext decoded when that gives printable US-ASCII (RFC 3464 §2.2.1, §2.3.1); otherwise the value as
    /// sent, made printable: a decoded `+0D+0A` must not start a new field.
    static func decodedXText(_ text: String) -> String {
        if let decoded = XText.decode(text), decoded.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return decoded.trimmingSpaces
        }
        return DSNText.sanitized(text).trimmingSpaces
    }

    /// `rfc822; local@domain`, or for a UTF-8 address `utf-8; ` and its utf-8-addr-xtext
    /// ([RFC 6533 §3](https://www.rfc-editor.org/rfc/rfc6533#section-3)), which keeps the field ASCII.
    static func addressField(_ address: MailAddress) -> String {
        let text = "\(address)"
        if DSNText.isASCII(text) { return "rfc822; " + text }
        var out = "utf-8; "
        for scalar in text.unicodeScalars {
            switch scalar.value {
            // QCHAR: printable ASCII except "+", "=" and "\".
            case 0x21...0x2A, 0x2C...0x3C, 0x3E...0x5B, 0x5D...0x7E: out.unicodeScalars.append(scalar)
            default: out += "\\x{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
