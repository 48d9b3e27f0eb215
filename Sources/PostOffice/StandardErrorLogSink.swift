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
        record.timestampedLine(at: now)
    }
}
