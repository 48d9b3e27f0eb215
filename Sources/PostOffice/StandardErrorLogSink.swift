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
        var line = Self.line(for: record, at: clock.now())
        // One write(2) per line: lines from concurrent sessions do not interleave.
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// `ts=2024-05-01T12:00:00.000Z level=... event=...` and a newline: the line every CLI sink writes.
    static func line(for record: LogRecord, at now: MailTime) -> String {
        var time = time_t(now.seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let stamp = String(
            format2(Int(parts.tm_year) + 1900, 4) + "-" + format2(Int(parts.tm_mon) + 1, 2) + "-" + format2(Int(parts.tm_mday), 2)
                + "T" + format2(Int(parts.tm_hour), 2) + ":" + format2(Int(parts.tm_min), 2) + ":" + format2(Int(parts.tm_sec), 2)
                + "." + format2(now.microseconds / 1000, 3) + "Z")
        return "ts=\(stamp) " + record.logfmt + "\n"
    }

    private static func format2(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
