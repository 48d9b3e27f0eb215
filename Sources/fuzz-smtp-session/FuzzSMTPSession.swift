// fuzz-smtp-session: libFuzzer target playing a whole pipelined SMTP session through SMTPServerStateMachine
// (like Dovecot's fuzz-smtp-server), with sender, recipient and message decisions answered by a fixed policy.

import PostOfficeFuzzSupport

@main
struct FuzzSMTPSession {
    static func main() {
        FuzzEntry.run(name: "fuzz-smtp-session") { bytes in
            let input = FuzzInput(bytes, headerCount: SMTPSessionHarness.headerCount)
            var session = SMTPSessionHarness(input: input)
            session.run()
            // The same input in one read must give the same session: no byte lost or reordered at read
            // boundaries (between line framer, DATA decoder and BDAT chunks).
            if session.isSplitInvariant {
                var reference = SMTPSessionHarness(input: input, usesWholeReads: true)
                reference.run()
                if reference.transcript != session.transcript {
                    let index = zip(reference.transcript, session.transcript).prefix { $0 == $1 }.count
                    preconditionFailure("""
                        split changed the session at step \(index): \
                        whole read: \(reference.transcript.dropFirst(index).prefix(2)), \
                        split reads: \(session.transcript.dropFirst(index).prefix(2))
                        """)
                }
            }
        }
    }
}
