// fuzz-smtp-data: libFuzzer target checking SMTPDataDecoder against a reference model of DATA content
// (only CRLF.CRLF ends it, bare LF becomes CRLF, dot-unstuffing), over any split of the input and with
// small size and line limits.

import PostOfficeFuzzSupport
import PostOfficeSMTP

@main
struct FuzzSMTPData {
    static func main() {
        FuzzEntry.run(name: "fuzz-smtp-data") { bytes in
            // Byte 0: size limit (0 = none, else n * 4); byte 1: line limit (0 = none, else n); 2...4: chunks.
            let input = FuzzInput(bytes, headerCount: 5)
            let maximumSize = input.header[0] == 0 ? Int.max : Int(input.header[0]) * 4
            let maximumLine: Int? = input.header[1] == 0 ? nil : Int(input.header[1])
            // The stream always ends, so the decoder always completes; the payload may end it earlier.
            let stream = input.payload + Array("\r\n.\r\n".utf8)
            let expected = DataDecoderModel.decode(stream)

            var decoder = SMTPDataDecoder(maximumMessageSize: maximumSize, maximumLineLength: maximumLine)
            var content: [UInt8] = []
            var consumed = 0
            var complete = false
            for chunk in FuzzInput.chunks(of: stream, seeds: Array(input.header[2...]), modulus: 12) {
                if complete {
                    let after = decoder.decode(chunk)
                    precondition(after.content.isEmpty && after.consumedCount == 0 && after.isComplete,
                        "decoder used input after the end marker")
                    continue
                }
                let output = decoder.decode(chunk)
                precondition(output.consumedCount <= chunk.count, "consumed more than given")
                precondition(output.isComplete || output.consumedCount == chunk.count, "stopped early without the end")
                content += output.content
                consumed += output.consumedCount
                complete = output.isComplete
            }
            precondition(complete && decoder.isComplete, "the end marker was not found")
            precondition(consumed == expected.consumedCount, "consumed \(consumed), model \(expected.consumedCount)")
            precondition(decoder.octetCount == expected.content.count, "octet count differs from the model")
            let oversize = expected.content.count > maximumSize
            precondition(decoder.isOversize == oversize, "oversize flag differs from the model")
            let overlong = maximumLine.map { DataDecoderModel.longestLine(expected.content) > $0 } ?? false
            precondition(decoder.hasOverlongLine == overlong, "overlong-line flag differs from the model")
            if oversize || overlong {
                precondition(expected.content.starts(with: content), "content past a limit is not a prefix")
            } else {
                precondition(content == expected.content, "content differs from the model")
            }
            // Stored content never has a bare LF.
            for index in content.indices where content[index] == 10 {
                precondition(index > 0 && content[index - 1] == 13, "bare LF in decoded content")
            }
        }
    }
}
