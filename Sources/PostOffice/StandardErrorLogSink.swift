// StandardErrorLogSink: the CLI's log — one logfmt line per event on stderr, with a UTC timestamp.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// Writes each record as one logfmt line to standard error.
public struct StandardErrorLogSink: LogSink {
    public var minimumLevel: LogRecord.Level
    private let clock: any MailClock

    public init(minimumLevel: LogRecord.Level = .info, clock: any MailClock = SystemClock()) {
        self.minimumLevel = minimumLevel
        self.clock = clock
    }

    public func log(_ record: LogRecord) {
        guard record.level >= minimumLevel else { return }
        let line = Self.lineBytes(for: record, at: clock.now())
        // One write(2) per line: lines from concurrent sessions do not interleave.
        line.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// `ts=2024-05-01T12:00:00.000Z level=... event=...` and a newline: the line every CLI sink writes.
    static func line(for record: LogRecord, at now: MailTime) -> String {
        String(decoding: lineBytes(for: record, at: now), as: UTF8.self)
    }

    /// ``line(for:at:)`` as the UTF-8 bytes written, built in one buffer.
    static func lineBytes(for record: LogRecord, at now: MailTime) -> [UInt8] {
        var time = time_t(now.seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + record.estimatedLogfmtCount)
        bytes.append(contentsOf: "ts=".utf8)
        appendPadded(Int(parts.tm_year) + 1900, width: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(Int(parts.tm_mon) + 1, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(Int(parts.tm_mday), width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendPadded(Int(parts.tm_hour), width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(Int(parts.tm_min), width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(Int(parts.tm_sec), width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendPadded(now.microseconds / 1000, width: 3, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
        bytes.append(UInt8(ascii: " "))
        record.appendLogfmt(to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Appends `value` in decimal, with zeros in front up to `width` characters (a minus sign counts as one).
    static func appendPadded(_ value: Int, width: Int, to bytes: inout [UInt8]) {
        guard value >= 0 else {
            let text = String(value)
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, width - text.utf8.count)))
            bytes.append(contentsOf: text.utf8)
            return
        }
        var digits = 1
        var limit = 10
        while value >= limit && digits < 19 {
            digits += 1
            limit &*= 10
        }
        if width > digits { bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits)) }
        let end = bytes.count + digits
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var rest = value
        var index = end
        while index > end - digits {
            index -= 1
            bytes[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
    }
}
