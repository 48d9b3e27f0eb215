// fuzz-pop3: libFuzzer target for the POP3 engine. Each input is parsed line by line with POP3Command and
// played as a whole pipelined session through POP3ServerStateMachine, with the runtime's decisions
// answered by a fixed policy; every output must be well-formed and consistent with the session's marks.

import PostOfficeCore
import PostOfficeFuzzSupport
import PostOfficePOP3

@main
struct FuzzPOP3 {
    static func main() {
        FuzzEntry.run(name: "fuzz-pop3") { bytes in
            let input = FuzzInput(bytes, headerCount: POP3SessionHarness.headerCount)
            POP3CommandHarness.check(payload: input.payload)
            var session = POP3SessionHarness(input: input)
            session.run()
            // The same input in one read must give the same session (pipelining is read-boundary blind).
            if session.isSplitInvariant {
                var reference = POP3SessionHarness(input: input, usesWholeReads: true)
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
