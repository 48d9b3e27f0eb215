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

    public let trace: TraceInfo
    /// The envelope sender; nil is the null reverse-path `<>`.
    public let reversePath: MailAddress?
    /// The date written in `Received:`.
    public let date: MailTime
    /// What every copy shares, built once per transaction rather than once per copy (formatting the date
    /// and the clauses cost ~30k instructions a copy, most of a five-recipient delivery's own CPU).
    private let parts: Parts

    /// The byte runs around the per-recipient values.
    private struct Parts: Sendable {
        /// `Return-Path: <...>\n`.
        var returnPath: [UInt8]
        /// `Received: from ... id QUEUEID` (up to where `for <rcpt>` would go).
        var receivedStart: [UInt8]
        /// `; DATE\n`.
        var receivedEnd: [UInt8]
    }

    public init(trace: TraceInfo, reversePath: MailAddress?, date: MailTime) {
        self.trace = trace
        self.reversePath = reversePath
        self.date = date
        parts = Self.parts(trace: trace, reversePath: reversePath, date: date)
    }

    /// The header block for one copy. `recipient` is the envelope address for the `for` clause;
    /// `deliveredTo` the final user for `Delivered-To:`. Pass nil for both to get a block that is the same
    /// for every recipient (so copies can be hard links).
    public func headers(recipient: MailAddress?, deliveredTo: MailAddress?) -> [UInt8] {
        var bytes = parts.returnPath
        bytes.reserveCapacity(parts.returnPath.count + parts.receivedStart.count + parts.receivedEnd.count + 128)
        if let deliveredTo {
            bytes += "Delivered-To: ".utf8
            bytes += Self.token(deliveredTo.description, limit: Self.maximumAddressLength).utf8
            bytes.append(10)
        }
        appendReceived(recipient: recipient, to: &bytes)
        return bytes
    }

    /// The `Received:` header alone (RFC 5321 §4.4), LF line ends: what a relaying hop adds, since
    /// `Return-Path:` and `Delivered-To:` belong to final delivery.
    public func receivedHeader(recipient: MailAddress?) -> [UInt8] {
        var bytes: [UInt8] = []
        appendReceived(recipient: recipient, to: &bytes)
        return bytes
    }

    private func appendReceived(recipient: MailAddress?, to bytes: inout [UInt8]) {
        bytes += parts.receivedStart
        if let recipient {
            bytes += "\n\tfor <".utf8
            bytes += Self.token(recipient.description, limit: Self.maximumAddressLength).utf8
            bytes.append(UInt8(ascii: ">"))
        }
        bytes += parts.receivedEnd
    }

    private static func parts(trace: TraceInfo, reversePath: MailAddress?, date: MailTime) -> Parts {
        let returnPath = "Return-Path: <\(reversePath.map { token($0.description, limit: maximumAddressLength) } ?? "")>\n"
        var text = "Received: "
        var fromClause: String?
        if let helo = trace.heloName {
            var clause = "from \(token(helo, limit: maximumNameLength))"
            if trace.clientAddress != nil || trace.clientHostname != nil {
                let name = token(trace.clientHostname ?? "unknown", limit: maximumNameLength)
                let address = trace.clientAddress.map { " [\(token($0, limit: 64))]" } ?? ""
                clause += " (\(name)\(address))"
            }
            fromClause = clause
        } else if let address = trace.clientAddress {
            fromClause = "from unknown ([\(token(address, limit: 64))])"
        }
        if let fromClause { text += fromClause + "\n\t" }
        if let tls = trace.tlsDescription {
            text += "(using \(comment(tls, limit: maximumCommentLength)))\n\t"
        }
        text += "by \(token(trace.hostname, limit: maximumNameLength)) (PostOffice)"
        text += " with \(token(trace.protocolName, limit: 16)) id \(token(trace.queueID, limit: 64))"
        let end = "; " + MailDateFormatter.format(seconds: date.seconds, offsetMinutes: trace.timeZoneOffsetMinutes) + "\n"
        return Parts(returnPath: Array(returnPath.utf8), receivedStart: Array(text.utf8), receivedEnd: Array(end.utf8))
    }

    /// A value that must stay one token: controls, space and structural punctuation become `?`.
    public static func token(_ value: String, limit: Int) -> String {
        // Nearly every value is printable ASCII without structural punctuation and within its limit: it is
        // written as it is (the loop below would return the same string, scalar by scalar).
        if value.utf8.count <= limit, !value.isEmpty, value.utf8.allSatisfy(isPlainTokenByte) { return value }
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

    /// A byte that `token` keeps as it is: printable ASCII other than space and `( ) < > ; \ "`.
    @inline(__always)
    private static func isPlainTokenByte(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7f else { return false }
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ";"),
            UInt8(ascii: "\\"), UInt8(ascii: "\""):
            return false
        default:
            return true
        }
    }

    /// Comment text: spaces kept, controls become `?`, parentheses become brackets so the comment stays closed.
    public static func comment(_ value: String, limit: Int) -> String {
        // Printable ASCII without parentheses or backslash, within the limit: unchanged (as below).
        if value.utf8.count <= limit, value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f && $0 != 0x28 && $0 != 0x29 && $0 != 0x5c }) {
            return value
        }
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
