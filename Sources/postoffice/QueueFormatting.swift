// QueueFormatting: how `postoffice queue` prints the queue — a mailq-style table, one message in detail, and
// one JSON document with stable field names (written by hand: the CLI does not use Foundation).

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

/// Text and JSON renderings of ``QueueAdministration`` values.
enum QueueFormatting {
    /// `2023-11-14T22:13:20Z`: RFC 3339, UTC, whole seconds.
    static func timestamp(_ time: MailTime) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return String(time.seconds) }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    /// The sender as mailq shows it: `<>` for the null sender.
    static func sender(_ message: QueueAdministration.Message) -> String {
        message.sender.isEmpty ? "<>" : printable(message.sender)
    }

    /// One recipient on one line: address, state, attempts, next attempt, last reply.
    static func recipientLine(_ recipient: QueueAdministration.Recipient) -> String {
        var line = "\(printable(recipient.address))  \(recipient.status.rawValue), \(recipient.attempts) attempt\(recipient.attempts == 1 ? "" : "s")"
        if let next = recipient.nextAttempt { line += ", next \(timestamp(next))" }
        if !recipient.reply.isEmpty || recipient.statusCode != nil {
            line += ": " + [recipient.statusCode, recipient.reply.isEmpty ? nil : printable(recipient.reply)].compactMap { $0 }.joined(separator: " ")
        }
        return line
    }

    /// The mailq-style listing: a line per message, then one indented line per recipient, then a summary.
    static func table(_ messages: [QueueAdministration.Message]) -> [String] {
        guard !messages.isEmpty else { return ["the queue is empty"] }
        var lines: [String] = []
        for message in messages {
            var flags: [String] = []
            if message.isHeld { flags.append("HELD") }
            if message.isFailed { flags.append("FAILED (no bounce sent yet)") }
            lines.append(
                ([message.id, String(message.size), timestamp(message.arrival), sender(message)] + flags).joined(separator: "  "))
            for recipient in message.recipients { lines.append("    " + recipientLine(recipient)) }
        }
        let recipients = messages.reduce(0) { $0 + $1.recipients.count }
        let bytes = messages.reduce(0) { $0 + $1.size }
        lines.append("-- \(messages.count) message\(messages.count == 1 ? "" : "s"), \(bytes) bytes, \(recipients) recipient\(recipients == 1 ? "" : "s")")
        return lines
    }

    /// `queue show`: the envelope and state, one field a line, then the headers.
    static func detail(_ message: QueueAdministration.Message, headers: String) -> [String] {
        var lines = [
            "id:          \(message.id)",
            "state:       \(message.isFailed ? "failed (every recipient final, no bounce sent yet)" : "active")\(message.isHeld ? ", held" : "")",
            "arrival:     \(timestamp(message.arrival))",
            "size:        \(message.size) bytes",
            "sender:      \(sender(message))",
        ]
        if let envelopeID = message.envelopeID { lines.append("envelope id: \(printable(envelopeID))") }
        for recipient in message.recipients {
            lines.append("recipient:   " + recipientLine(recipient))
            if let last = recipient.lastAttempt { lines.append("             last attempt \(timestamp(last))") }
        }
        lines.append("")
        lines += headers.split(separator: "\n", omittingEmptySubsequences: false).map { printable(String($0)) }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The whole queue as one JSON document.
    static func json(_ messages: [QueueAdministration.Message], directory: String) -> String {
        let items = messages.map { message -> String in
            let recipients = message.recipients.map { r -> String in
                object([
                    ("address", string(r.address)), ("status", string(r.status.rawValue)), ("attempts", String(r.attempts)),
                    ("next_attempt", r.nextAttempt.map { string(timestamp($0)) } ?? "null"),
                    ("last_attempt", r.lastAttempt.map { string(timestamp($0)) } ?? "null"),
                    ("status_code", r.statusCode.map(string) ?? "null"), ("reply", string(r.reply)),
                ])
            }
            return object([
                ("id", string(message.id)), ("location", string(message.isFailed ? "failed" : "active")),
                ("held", message.isHeld ? "true" : "false"), ("arrival", string(timestamp(message.arrival))),
                ("size", String(message.size)), ("sender", string(message.sender)),
                ("envelope_id", message.envelopeID.map(string) ?? "null"),
                ("recipients", "[" + recipients.joined(separator: ", ") + "]"),
            ])
        }
        return object([
            ("queue_directory", string(directory)),
            ("messages", items.isEmpty ? "[]" : "[\n  " + items.joined(separator: ",\n  ") + "\n]"),
        ])
    }

    /// `{"a": 1, "b": 2}` from rendered values, in order.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }

    /// A JSON string literal (RFC 8259 §7): quote, backslash and control characters escaped.
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// `text` with control characters shown as `\xNN`, so a remote server's reply or a header cannot drive
    /// the terminal.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" : "") + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
