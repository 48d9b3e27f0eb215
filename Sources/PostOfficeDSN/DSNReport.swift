// DSNReport: a composed report, ready to stream — its head (headers and the first two parts), an encoder
// for the original, and its tail — plus the envelope to send it with (always from `<>`).

import PostOfficeCore

/// A delivery status notification in the form of [RFC 3464](https://www.rfc-editor.org/rfc/rfc3464) and
/// [RFC 6522](https://www.rfc-editor.org/rfc/rfc6522), split for streaming. The message is
/// `head`, then every chunk of the original through ``makeEncoder()``, then the encoder's `finish()`,
/// then `tail`.
public struct DSNReport: Hashable, Sendable {
    /// The report's reverse-path: always nil, the null reverse-path `<>`, so it is never reported on
    /// itself ([RFC 5321 §4.5.5](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.5)).
    public let reversePath: MailAddress? = nil
    /// The report's one envelope recipient (the `To:`).
    public let recipient: MailAddress
    public let kind: DSNReportKind
    /// `<token@hostname>`.
    public let messageID: String
    /// The MIME boundary of the `multipart/report`.
    public let boundary: String
    /// Whether the third part is the whole original or its headers.
    public let content: DSNReturnContent
    /// Header fields and the first two parts, up to the empty line that starts the third part's body.
    public let head: [UInt8]
    /// The closing delimiter.
    public let tail: [UInt8]
    /// The report carries 8-bit text (send with `BODY=8BITMIME`).
    public let requires8BitMIME: Bool
    /// A header field carries a UTF-8 address (send with `SMTPUTF8`).
    public let requiresSMTPUTF8: Bool

    init(
        recipient: MailAddress, kind: DSNReportKind, messageID: String, boundary: String,
        content: DSNReturnContent, head: [UInt8], tail: [UInt8], requires8BitMIME: Bool, requiresSMTPUTF8: Bool
    ) {
        self.recipient = recipient
        self.kind = kind
        self.messageID = messageID
        self.boundary = boundary
        self.content = content
        self.head = head
        self.tail = tail
        self.requires8BitMIME = requires8BitMIME
        self.requiresSMTPUTF8 = requiresSMTPUTF8
    }

    /// A fresh encoder for streaming the original message into the third part.
    public func makeEncoder() -> DSNOriginalEncoder { DSNOriginalEncoder(boundary: boundary, content: content) }

    /// The whole report for an original held in memory; for tests and small messages.
    public func assemble(original: [UInt8]) -> [UInt8] {
        var encoder = makeEncoder()
        var out = head
        encoder.encode(original, into: &out)
        out += encoder.finish()
        return out + tail
    }
}
