// SMTPReplyParser: the client direction of SMTPReply, sans-I/O. Bytes from the server go in, in any splits;
// complete replies come out. Line framing is LineFramer's; this type only reads the reply grammar.

import PostOfficeCore

/// Reads SMTP replies ([RFC 5321 §4.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.2)) from a byte
/// stream, multi-line replies included, for an SMTP client.
///
/// ``append(_:)`` what was read, then call ``nextReply()`` until it returns nil (no complete reply yet).
/// Memory is bounded: a line longer than `maximumLineLength` or a reply with more than `maximumLineCount`
/// lines is an error as soon as it is seen. Errors are final: later calls throw the same error.
///
/// An [RFC 2034](https://www.rfc-editor.org/rfc/rfc2034) enhanced status code is read from the first line's
/// text when it is there and its class matches the reply code's first digit (`250 2.1.0 Ok`); the same code
/// is then removed from the front of the other lines. A line ends at LF, with or without CR before it,
/// as ``LineFramer`` frames lines. `SMTPReply(code:enhancedCode:lines: [])` and `lines: [""]` have the same
/// wire form; it reads back as `[""]`.
public struct SMTPReplyParser: Sendable {
    /// RFC 5321 §4.5.3.1.5 allows reply lines of 512 octets; real servers exceed it, so the default is looser.
    public static let defaultMaximumLineLength = 2048
    /// Far beyond any EHLO reply, still small.
    public static let defaultMaximumLineCount = 100

    /// The longest line accepted, terminator included.
    public let maximumLineLength: Int
    /// The most lines one reply may have.
    public let maximumLineCount: Int

    private var framer: LineFramer
    private var partial: (code: Int, lines: [[UInt8]])?
    private var failure: SMTPReplyParserError?

    public init(
        maximumLineLength: Int = Self.defaultMaximumLineLength, maximumLineCount: Int = Self.defaultMaximumLineCount
    ) {
        // A line needs room for at least its code and terminator.
        self.maximumLineLength = max(maximumLineLength, 5)
        self.maximumLineCount = max(maximumLineCount, 1)
        framer = LineFramer(maximumLineLength: self.maximumLineLength)
    }

    /// Bytes held: a partial line, or lines not yet asked for.
    public var bufferedByteCount: Int { framer.bufferedByteCount }

    /// Adds bytes read from the server.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        guard failure == nil else { return }
        framer.append(bytes)
    }

    /// The next complete reply, or nil when more bytes are needed.
    public mutating func nextReply() throws(SMTPReplyParserError) -> SMTPReply? {
        if let failure { throw failure }
        do throws(SMTPReplyParserError) {
            while let frame = framer.nextFrame() {
                guard case .line(let line) = frame else { throw .lineTooLong(limit: maximumLineLength) }
                if let reply = try take(line) { return reply }
            }
            return nil
        } catch {
            failure = error
            framer.discardBuffered()
            partial = nil
            throw error
        }
    }

    /// Adds one line to the reply being read; returns the reply when this line was its last.
    private mutating func take(_ line: [UInt8]) throws(SMTPReplyParserError) -> SMTPReply? {
        guard line.count >= 3, (50...53).contains(line[0]), (48...53).contains(line[1]), (48...57).contains(line[2])
        else { throw .invalidCode }
        let code = Int(line[0] - 48) * 100 + Int(line[1] - 48) * 10 + Int(line[2] - 48)
        let isLast: Bool
        switch line.count > 3 ? line[3] : nil {
        case nil, UInt8(ascii: " "): isLast = true
        case UInt8(ascii: "-"): isLast = false
        default: throw .invalidSeparator
        }
        // textstring = 1*( %d09 / %d32-126 ), and UTF-8 (RFC 6531 §3.7.4.2).
        let text = Array(line.dropFirst(4))
        guard !text.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }),
            String(validating: text, as: UTF8.self) != nil
        else { throw .invalidText }
        var current = partial ?? (code, [])
        guard current.code == code else { throw .mixedCodes(expected: current.code, found: code) }
        current.lines.append(text)
        guard isLast else {
            guard current.lines.count < maximumLineCount else { throw .tooManyLines(limit: maximumLineCount) }
            partial = current
            return nil
        }
        partial = nil
        return Self.reply(code: code, lines: current.lines)
    }

    /// Builds the reply, reading the enhanced status code off the first line when there is one.
    private static func reply(code: Int, lines: [[UInt8]]) -> SMTPReply {
        guard let first = lines.first, let found = enhancedCode(first, replyCode: code) else {
            return SMTPReply(code: code, enhancedCode: nil, lines: lines.map { String(decoding: $0, as: UTF8.self) })
        }
        let (enhanced, prefixLength) = found
        let texts = lines.map { line in
            // Strip the code from the other lines only when it is the same one (RFC 2034 §3 repeats it).
            let same = enhancedCode(line, replyCode: code).map { $0.0 == enhanced } ?? false
            return String(decoding: same ? line.dropFirst(prefixLength) : line[...], as: UTF8.self)
        }
        return SMTPReply(code: code, enhancedCode: enhanced, lines: texts)
    }

    /// `class "." subject "." detail` then a space or the end of the text (RFC 3463 §2: 1*3 digits each);
    /// its class must be the reply code's first digit (RFC 2034 §4). Returns the code and the length to drop.
    private static func enhancedCode(_ text: [UInt8], replyCode: Int) -> (EnhancedStatusCode, Int)? {
        let end = text.firstIndex { $0 == UInt8(ascii: " ") || $0 == 0x09 } ?? text.count  // SP, or the TAB that wireBytes turns into one
        let fields = text[..<end].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 1, fields.allSatisfy({ (1...3).contains($0.count) }),
            fields.allSatisfy({ $0.allSatisfy { (48...57).contains($0) } }),
            let enhanced = EnhancedStatusCode(String(decoding: text[..<end], as: UTF8.self)),
            enhanced.statusClass == replyCode / 100
        else { return nil }
        return (enhanced, min(end + 1, text.count))
    }
}
