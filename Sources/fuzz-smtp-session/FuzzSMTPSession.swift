// fuzz-smtp-session: libFuzzer target playing a whole pipelined SMTP session through SMTPServerStateMachine
// (like Dovecot's fuzz-smtp-server), with sender, recipient and message decisions answered by a fixed policy.

import PostOfficeFuzzSupport

@main
struct FuzzSMTPSession {
    static func main() {
        FuzzEntry.run(name: "fuzz-smtp-session") { bytes in
            var session = SMTPSessionHarness(input: FuzzInput(bytes, headerCount: SMTPSessionHarness.headerCount))
            session.run()
        }
    }
}
