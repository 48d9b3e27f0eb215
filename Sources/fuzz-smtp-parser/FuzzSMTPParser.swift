// fuzz-smtp-parser: libFuzzer target for SMTP command parsing. The parser is internal to PostOfficeSMTP, so
// each input line is sent through SMTPServerStateMachine in a known state and the parse is read from the
// engine's answer; parsed MAIL and RCPT paths must survive a format-and-parse round trip.

import PostOfficeFuzzSupport

@main
struct FuzzSMTPParser {
    static func main() {
        FuzzEntry.run(name: "fuzz-smtp-parser") { bytes in
            SMTPParserHarness.check(bytes)
        }
    }
}
