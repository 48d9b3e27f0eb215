// SMTPReplyParserError: why a server's reply stream cannot be read. Every case is final for the stream:
// after one, the client cannot tell where the next reply starts and should close the connection.

/// A malformed or oversized SMTP reply ([RFC 5321 §4.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.2)).
public enum SMTPReplyParserError: Error, Hashable, Sendable {
    /// A line does not start with a three-digit reply code (`%x32-35 %x30-35 %x30-39`).
    case invalidCode
    /// The byte after the code is neither a space, `-` (more lines follow) nor the end of the line.
    case invalidSeparator
    /// A line of a multi-line reply carries another code than the reply's first line.
    case mixedCodes(expected: Int, found: Int)
    /// The text holds control characters (NUL, a bare CR...) or is not UTF-8.
    case invalidText
    /// A line is longer than the parser's limit (terminator included).
    case lineTooLong(limit: Int)
    /// A multi-line reply has more lines than the parser's limit.
    case tooManyLines(limit: Int)
}
