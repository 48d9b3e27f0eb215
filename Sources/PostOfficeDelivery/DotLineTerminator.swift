// DotLineTerminator: sendmail's old end-of-input rule — a line holding only "." ends the message unless -i
// (or -oi) is given — applied to a stream, so the input is never held whole.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Passes bytes through until a line that is exactly `.` (ended by LF, CRLF or the end of input); that
/// line and everything after it are dropped. Nothing else changes: unlike SMTP, sendmail's standard input
/// is not dot-stuffed, so `..` stays `..`. At most two bytes (`.` and a CR) are held across chunks.
public struct DotLineTerminator: Sendable {
    /// True once the `.` line was seen; further input is ignored.
    public private(set) var hasEnded = false
    private var atLineStart = true
    /// Bytes of a possible `.` line held back: 0 none, 1 `.`, 2 `.` CR.
    private var held = 0

    public init() {}

    /// Appends the bytes of `input` that belong to the message to `output`.
    public mutating func filter(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        guard !hasEnded, let base = input.baseAddress else { return }
        var index = 0
        let count = input.count
        while index < count {
            if held > 0 {
                let byte = input[index]
                if byte == 0x0A {
                    hasEnded = true
                    return
                }
                if held == 1 && byte == 0x0D {
                    held = 2
                    index += 1
                    continue
                }
                releaseHeld(into: &output)
                continue
            }
            if atLineStart && input[index] == UInt8(ascii: ".") {
                held = 1
                atLineStart = false
                index += 1
                continue
            }
            // Copy through the end of this line (memchr: long lines cost a memcpy, not a byte loop).
            let end = memchr(base + index, 0x0A, count - index).map { UnsafeRawPointer($0) - base + 1 } ?? count
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[index..<end]))
            atLineStart = input[end - 1] == 0x0A
            index = end
        }
    }

    /// The end of input: a last line `.` (or `.` CR) without a line ending also ends the message there.
    public mutating func finish() {
        if held > 0 { hasEnded = true }
    }

    /// The held `.` (and CR) turned out to start an ordinary line.
    private mutating func releaseHeld(into output: inout [UInt8]) {
        output.append(UInt8(ascii: "."))
        if held == 2 { output.append(0x0D) }
        held = 0
    }
}
