// fuzz-smtp-reply: libFuzzer target for SMTPReplyParser, the client direction of the SMTP reply grammar.
// Arbitrary server output must give the same replies and error however it is split, and every reply read
// must be written and read back unchanged.

import PostOfficeFuzzSupport

@main
struct FuzzSMTPReply {
    static func main() {
        FuzzEntry.run(name: "fuzz-smtp-reply") { bytes in
            SMTPReplyHarness.check(bytes)
        }
    }
}
