// LogRecordTests: the logfmt line and the value quoting, built on bytes, give exactly the text of the
// scalar-by-scalar version they replaced (kept here as the reference): every byte class, non-ASCII, long values.

import PostOfficeCore
import Testing

@Suite("LogRecord")
struct LogRecordTests {
    /// The quoting as it was written before (scalar by scalar, String concatenation): the reference.
    static func referenceEscape(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { c in
            c == " " || c == "\"" || c == "=" || c == "\\" || c.value < 0x20 || c.value == 0x7f
        }
        guard needsQuotes else { return value }
        var out = "\""
        for c in value.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7f {
                    out += "\\x" + String(c.value, radix: 16)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    /// The line as it was built before: the reference.
    static func referenceLogfmt(_ record: LogRecord) -> String {
        var line = "level=\(record.level.rawValue) event=\(referenceEscape(record.event))"
        if let sessionID = record.sessionID { line += " session=\(referenceEscape(sessionID))" }
        for (k, v) in record.fields { line += " \(k)=\(referenceEscape(v))" }
        return line
    }

    @Test("known quoting", arguments: [
        ("", "\"\""),
        ("plain", "plain"),
        ("a b", "\"a b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("k=v", "\"k=v\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("line\nbreak", "\"line\\nbreak\""),
        ("cr\rlf\n", "\"cr\\rlf\\n\""),
        ("tab\there", "\"tab\\there\""),
        ("\u{0}", "\"\\x0\""),
        ("\u{1}x", "\"\\x1x\""),
        ("\u{1B}[31m", "\"\\x1b[31m\""),
        ("\u{1F}", "\"\\x1f\""),
        ("del\u{7F}", "\"del\\x7f\""),
        ("caf\u{E9}", "caf\u{E9}"),
        ("caf\u{E9} au lait", "\"caf\u{E9} au lait\""),
        ("\u{85}next-line", "\u{85}next-line"),  // C1 controls are not ASCII: left as they are
        ("\u{1F600}=\u{1F600}", "\"\u{1F600}=\u{1F600}\""),
        ("127.0.0.1:25", "127.0.0.1:25"),
        ("<alice@example.test>", "<alice@example.test>"),
    ])
    func knownQuoting(value: String, expected: String) {
        #expect(LogRecord.escape(value) == expected)
        #expect(Self.referenceEscape(value) == expected)
        let record = LogRecord(.info, "e", [("k", value)])
        #expect(record.logfmtBytes == Array("level=info event=e k=\(expected)".utf8))
    }

    @Test("every ASCII character alone, first, in the middle and last, and DEL, as the reference")
    func everyASCIICharacter() {
        for value in UInt32(0)...0x7F {
            let character = String(Character(Unicode.Scalar(value)!))
            for text in [character, character + "tail", "head" + character + "tail", "head" + character, character + character] {
                #expect(LogRecord.escape(text) == Self.referenceEscape(text), "byte \(value) in \(Array(text.utf8))")
                let record = LogRecord(.info, text, session: text, [("k", text)])
                #expect(record.logfmt == Self.referenceLogfmt(record))
            }
        }
    }

    @Test("non-ASCII and long values as the reference", arguments: [
        String(repeating: "x", count: 5000),
        String(repeating: "a b", count: 2000),
        String(repeating: "\u{E9}\u{1F600}", count: 300) + "\n",
        String(repeating: "\\\"", count: 100),
        "\u{FEFF}bom", "\u{2028}sep", "e\u{301}", "\u{10FFFF}",
        String((0..<200).map { Character(Unicode.Scalar(UInt8($0 % 128))) }),
    ])
    func longAndNonASCII(value: String) {
        #expect(LogRecord.escape(value) == Self.referenceEscape(value))
        let record = LogRecord(.warning, value, session: value, [(value, value)])
        #expect(record.logfmt == Self.referenceLogfmt(record))
    }

    @Test("a bridged, substring-built or small string quotes like a literal")
    func storage() {
        let long = String(repeating: "a=b ", count: 10)
        let rebuilt = String(Substring(long + "x").dropLast())
        #expect(LogRecord.escape(rebuilt) == Self.referenceEscape(long))
        #expect(LogRecord.escape(String("ab c".dropFirst())) == "\"b c\"")
    }

    @Test("the whole line as the reference")
    func wholeLine() {
        let records = [
            LogRecord(.info, "smtp.connect", session: "AbC123", [("client", "127.0.0.1:4000"), ("tls", "no")]),
            LogRecord(.warning, "smtp.spf", session: nil, [("result", "pass"), ("problem", ""), ("domain", "a b=c")]),
            LogRecord(.error, "odd event", session: "s\"1", [("reason", "line\r\nlevel=error forged=yes")]),
            LogRecord(.debug, "wire", session: "x", [("C", "MAIL FROM:<caf\u{E9}@example.test>\u{7}")]),
            LogRecord(.info, "empty"),
        ]
        for record in records {
            #expect(record.logfmt == Self.referenceLogfmt(record))
            #expect(record.logfmtBytes == Array(Self.referenceLogfmt(record).utf8))
        }
        #expect(records[0].logfmt == "level=info event=smtp.connect session=AbC123 client=127.0.0.1:4000 tls=no")
        #expect(records[2].logfmt == "level=error event=\"odd event\" session=\"s\\\"1\" reason=\"line\\r\\nlevel=error forged=yes\"")
    }
}
