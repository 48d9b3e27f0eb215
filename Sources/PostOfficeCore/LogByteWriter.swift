// LogByteWriter: appends a log line's bytes to an array reserved for them beforehand (LogRecord counts first),
// so a line costs one allocation and no String building; and the timestamped line every CLI sink writes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends a log line's bytes to an array reserved for them beforehand (the caller counted them first, so
/// the line costs one allocation). A miscount only costs a reallocation: nothing here can crash the server.
struct LogByteWriter {
    private(set) var bytes: [UInt8] = []

    /// A writer expecting about `capacity` bytes.
    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func write(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Writes `text` unchanged.
    mutating func write(_ text: String) {
        var text = text
        text.withUTF8 { write($0) }
    }

    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes.append(contentsOf: bytes)
    }

    /// Writes ``LogRecord/escape(_:)`` of `value`: as it is, or quoted with `"`, `\`, CR, LF and tab escaped and
    /// other control characters and DEL as `\x` and their lower-case hex value without leading zeros.
    mutating func writeEscaped(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            guard LogRecord.needsQuotes(utf8) else { return write(utf8) }
            write(UInt8(ascii: "\""))
            var copied = 0  // bytes of `utf8` before this index are written already
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x7F else { continue }
                write(UnsafeBufferPointer(rebasing: utf8[copied..<index]))
                copied = index + 1
                write(UInt8(ascii: "\\"))
                switch byte {
                case 0x22: write(0x22)
                case 0x5C: write(0x5C)
                case 0x0A: write(UInt8(ascii: "n"))
                case 0x0D: write(UInt8(ascii: "r"))
                case 0x09: write(UInt8(ascii: "t"))
                default:
                    write(UInt8(ascii: "x"))
                    if byte >= 0x10 { write(Self.hexDigit(byte >> 4)) }
                    write(Self.hexDigit(byte & 0x0F))
                }
            }
            write(UnsafeBufferPointer(rebasing: utf8[copied...]))
            write(UInt8(ascii: "\""))
        }
    }

    /// Writes `value` (0...10^width - 1) in decimal with `width` digits.
    mutating func writeDigits(_ value: Int, width: Int) {
        var divisor = 1
        for _ in 1..<max(width, 1) { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}

extension LogRecord {
    /// `ts=2024-05-01T12:00:00.000Z level=... event=...` and a newline: the line every CLI sink writes (the
    /// time in UTC, milliseconds), as bytes in one buffer of exactly its size.
    public func timestampedLine(at time: MailTime) -> [UInt8] {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int(parts.tm_year) + 1900
        let month = Int(parts.tm_mon) + 1
        let milliseconds = time.microseconds / 1000
        // Years 0...9999 and milliseconds 0...999 have fixed widths; anything else (no real clock gives it)
        // is written as the String version wrote it, zero-padded to at least the width.
        func isTwoDigits(_ value: Int32) -> Bool { (0...99).contains(value) }
        let regular = (0...9999).contains(year) && (0...999).contains(milliseconds) && (0...98).contains(parts.tm_mon)
            && isTwoDigits(parts.tm_mday) && isTwoDigits(parts.tm_hour) && isTwoDigits(parts.tm_min) && isTwoDigits(parts.tm_sec)
        let irregular: [UInt8] = regular
            ? [] : Array(Self.paddedStamp([(year, 4), (month, 2), (Int(parts.tm_mday), 2), (Int(parts.tm_hour), 2),
                                           (Int(parts.tm_min), 2), (Int(parts.tm_sec), 2), (milliseconds, 3)]).utf8)
        let stampCount = regular ? 24 : irregular.count
        let logfmtCount = logfmtCount
        let count = 3 + stampCount + 1 + logfmtCount + 1
        var writer = LogByteWriter(capacity: count)
        writer.write(UInt8(ascii: "t"))
        writer.write(UInt8(ascii: "s"))
        writer.write(UInt8(ascii: "="))
        if regular {
            writer.writeDigits(year, width: 4)
            writer.write(UInt8(ascii: "-"))
            writer.writeDigits(month, width: 2)
            writer.write(UInt8(ascii: "-"))
            writer.writeDigits(Int(parts.tm_mday), width: 2)
            writer.write(UInt8(ascii: "T"))
            writer.writeDigits(Int(parts.tm_hour), width: 2)
            writer.write(UInt8(ascii: ":"))
            writer.writeDigits(Int(parts.tm_min), width: 2)
            writer.write(UInt8(ascii: ":"))
            writer.writeDigits(Int(parts.tm_sec), width: 2)
            writer.write(UInt8(ascii: "."))
            writer.writeDigits(milliseconds, width: 3)
            writer.write(UInt8(ascii: "Z"))
        } else {
            irregular.withUnsafeBufferPointer { writer.write($0) }
        }
        writer.write(UInt8(ascii: " "))
        writeLogfmt(to: &writer)
        writer.write(UInt8(ascii: "\n"))
        return writer.bytes
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` from (value, width) pairs, each zero-padded to at least its width.
    private static func paddedStamp(_ values: [(Int, Int)]) -> String {
        func padded(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let separators = ["-", "-", "T", ":", ":", ".", "Z"]
        return zip(values, separators).map { padded($0.0, $0.1) + $1 }.joined()
    }
}
