// SMTPReply: one server reply (code, enhanced status code, text lines) and its exact wire form.
// The catalogue of replies the engine and drivers use lives in SMTPReply+Catalogue.swift.

import PostOfficeCore

/// An SMTP reply ([RFC 5321 §4.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.2)), with the
/// [RFC 2034](https://www.rfc-editor.org/rfc/rfc2034) enhanced status code that prefixes each text line.
public struct SMTPReply: Hashable, Sendable, CustomStringConvertible {
    /// The three-digit reply code, such as 250.
    public var code: Int
    /// The enhanced status code put before the text of every line, or nil (greeting, EHLO/HELO, 354:
    /// RFC 2034 §3 leaves those without one).
    public var enhancedCode: EnhancedStatusCode?
    /// The text lines; more than one makes a multi-line reply. An empty array sends the code alone.
    public var lines: [String]

    /// A reply with one text line per `text` argument.
    public init(_ code: Int, _ enhanced: EnhancedStatusCode?, _ text: String...) {
        self.init(code: code, enhancedCode: enhanced, lines: text)
    }

    /// A reply with the given text lines.
    public init(code: Int, enhancedCode: EnhancedStatusCode?, lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines
    }

    /// 2xx.
    public var isPositive: Bool { (200..<300).contains(code) }
    /// 4xx or 5xx: the engine counts these as client errors.
    public var isError: Bool { code >= 400 }

    /// The reply as sent: `250-first\r\n250 last\r\n`
    /// ([RFC 5321 §4.2.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1)), the enhanced code
    /// repeated on every line. Control characters in the text are replaced by spaces so a reply text can
    /// never end a line early or forge another reply.
    public var wireBytes: [UInt8] {
        var out: [UInt8] = []
        let codeText = Array(String(code).utf8)
        let prefix = enhancedCode.map { Array("\($0) ".utf8) } ?? []
        let texts = lines.isEmpty ? [""] : lines
        for (index, line) in texts.enumerated() {
            out += codeText
            out.append(index == texts.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
            out += prefix
            for byte in line.utf8 {
                out.append(byte < 0x20 || byte == 0x7F ? UInt8(ascii: " ") : byte)
            }
            out += [13, 10]
        }
        return out
    }

    /// The wire form without the final CRLF, for logs.
    public var description: String {
        String(decoding: wireBytes.dropLast(2), as: UTF8.self)
    }

    /// A copy with other text, same code and enhanced code.
    public func withText(_ text: String...) -> SMTPReply {
        SMTPReply(code: code, enhancedCode: enhancedCode, lines: text)
    }
}
