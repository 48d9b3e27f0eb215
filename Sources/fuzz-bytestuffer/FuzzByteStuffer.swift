// fuzz-bytestuffer: libFuzzer target checking POP3ByteStuffer (and POP3MessageSizeCounter) against a
// line-by-line reference model, for RETR and TOP, with the message cut into arbitrary chunks.

import PostOfficeFuzzSupport
import PostOfficePOP3

@main
struct FuzzByteStuffer {
    static func main() {
        FuzzEntry.run(name: "fuzz-bytestuffer") { bytes in
            // Byte 0: 0 is RETR, n > 0 is TOP with n - 1 body lines (255 picks a negative limit);
            // bytes 1...3: chunk sizes.
            let input = FuzzInput(bytes, headerCount: 4)
            let mode = input.header[0]
            let limit: Int? = mode == 0 ? nil : (mode == 255 ? -1 : Int(mode) - 1)
            let message = input.payload
            let expected = ByteStufferModel.wire(of: message, bodyLineLimit: limit)

            var stuffer = POP3ByteStuffer(bodyLineLimit: limit)
            var counter = POP3MessageSizeCounter()
            var output: [UInt8] = []
            var stopped = false
            for chunk in FuzzInput.chunks(of: message, seeds: Array(input.header[1...]), modulus: 16) {
                counter.add(chunk)
                let more = stuffer.encode(chunk, into: &output)
                // Once the stuffer said stop, it must keep saying so and write nothing more.
                if stopped {
                    precondition(!more, "encode continued after reporting the TOP limit")
                }
                if !more {
                    precondition(limit != nil, "RETR encode reported a limit")
                    stopped = true
                }
            }
            stuffer.finish(into: &output)
            precondition(output == expected, "stuffer output differs from the model")
            // The size counter is the RETR wire size minus stuffing and terminator.
            let unstuffed = ByteStufferModel.wire(of: message, bodyLineLimit: nil, stuffsDots: false)
            precondition(counter.octets == unstuffed.count - 3, "size counter \(counter.octets) != \(unstuffed.count - 3)")
            precondition(!ByteStufferModel.containsEarlyTerminator(output), "a line is a lone dot before the end")
        }
    }
}
