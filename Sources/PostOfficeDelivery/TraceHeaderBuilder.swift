// TraceHeaderBuilder: writes the Return-Path, Delivered-To and Received lines prepended to each stored copy.
// Every value that came from the peer is sanitized here, so no input can start a new header line.

import PostOfficeCore

/// Builds the trace header block for one stored copy, with LF line endings (the Maildir storage form).
///
/// - `Return-Path: <reverse-path>` (`<>` for the null path), as the final delivery adds it
///   ([RFC 5321 §4.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.4)).
/// - `Delivered-To: <user>`, the Postfix/qmail convention that loop detection reads back.
/// - `Received: from HELO (rdns [ip]) (using TLS...) by HOST (PostOffice) with PROTO id ID for <rcpt>; date`.
///
/// Sanitizing: in tokens (HELO, host names, addresses, ids) every control character, space, and
/// `( ) < > ; \ "` becomes `?`; in comments (TLS) control characters become `?` and parentheses `[ ]`.
/// Each value is cut to a maximum length. CR, LF and NUL therefore can never reach the output.
public struct TraceHeaderBuilder: Sendable {
    /// Longest HELO name or host name written.
    public static let maximumNameLength = 255
    /// Longest address written (RFC 5321 §4.5.3.1.3 path limit).
    public static let maximumAddressLength = 256
    /// Longest comment written.
    public static let maximumCommentLength = 200

    public var trace: TraceInfo
    /// The envelope sender; nil is the null reverse-path `<>`.
    public var reversePath: MailAddress?
    /// The date written in `Received:`.
    public var date: MailTime

    public init(trace: TraceInfo, reversePath: MailAddress?, date: MailTime) {
        self.trace = trace
        self.reversePath = reversePath
        self.date = date
    }

    /// The header block for one copy. `recipient` is the envelope address for the `for` clause;
    /// `deliveredTo` the final user for `Delivered-To:`. Pass nil for both to get a block that is the same
    /// for every recipient (so copies can be hard links).
    public func headers(recipient: MailAddress?, deliveredTo: MailAddress?) -> [UInt8] {
        var text = "Return-Path: <\(reversePath.map { Self.token($0.description, limit: Self.maximumAddressLength) } ?? "")>\n"
        if let deliveredTo {
            text += "Delivered-To: \(Self.token(deliveredTo.description, limit: Self.maximumAddressLength))\n"
        }
        return Array(text.utf8) + receivedHeader(recipient: recipient)
    }

    /// The `Received:` header alone (RFC 5321 §4.4), LF line ends: what a relaying hop adds, since
    /// `Return-Path:` and `Delivered-To:` belong to final delivery.
    public func receivedHeader(recipient: MailAddress?) -> [UInt8] {
        var text = "Received: "
        var fromClause: String?
        if let helo = trace.heloName {
            var clause = "from \(Self.token(helo, limit: Self.maximumNameLength))"
            if trace.clientAddress != nil || trace.clientHostname != nil {
                let name = Self.token(trace.clientHostname ?? "unknown", limit: Self.maximumNameLength)
                let address = trace.clientAddress.map { " [\(Self.token($0, limit: 64))]" } ?? ""
                clause += " (\(name)\(address))"
            }
            fromClause = clause
        } else if let address = trace.clientAddress {
            fromClause = "from unknown ([\(Self.token(address, limit: 64))])"
        }
        if let fromClause { text += fromClause + "\n\t" }
        if let tls = trace.tlsDescription {
            text += "(using \(Self.comment(tls, limit: Self.maximumCommentLength)))\n\t"
        }
        text += "by \(Self.token(trace.hostname, limit: Self.maximumNameLength)) (PostOffice)"
        text += " with \(Self.token(trace.protocolName, limit: 16)) id \(Self.token(trace.queueID, limit: 64))"
        if let recipient {
            text += "\n\tfor <\(Self.token(recipient.description, limit: Self.maximumAddressLength))>"
        }
        text += "; " + MailDateFormatter.format(seconds: date.seconds, offsetMinutes: trace.timeZoneOffsetMinutes) + "\n"
        return Array(text.utf8)
    }

    /// A value that must stay one token: controls, space and structural punctuation become `?`.
    public static func token(_ value: String, limit: Int) -> String {
        var out = ""
        var count = 0
        for scalar in value.unicodeScalars {
            guard count < limit else { break }
            let v = scalar.value
            if v <= 0x20 || v == 0x7f || (0x80...0x9f).contains(v) || v == 0x2028 || v == 0x2029
                || "()<>;\\\"".unicodeScalars.contains(scalar)
            {
                out += "?"
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out.isEmpty ? "?" : out
    }

    /// Comment text: spaces kept, controls become `?`, parentheses become brackets so the comment stays closed.
    public static func comment(_ value: String, limit: Int) -> String {
        var out = ""
        var count = 0
        for scalar in value.unicodeScalars {
            guard count < limit else { break }
            let v = scalar.value
            switch scalar {
            case "(": out += "["
            case ")": out += "]"
            case "\\": out += "?"
            default:
                if v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v) || v == 0x2028 || v == 0x2029 {
                    out += "?"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
            count += 1
        }
        return out
    }
}
