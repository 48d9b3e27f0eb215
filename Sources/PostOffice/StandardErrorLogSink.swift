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

    /// The lines in one write(2), so they stay together and cost one system call.
    public func log(_ records: [LogRecord]) {
        guard let bytes = Self.linesBytes(for: records, minimumLevel: minimumLevel, clock: clock) else { return }
        bytes.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// The lines of the records at or above `minimumLevel`, one after another, all stamped with one reading of
    /// the clock; nil when none is.
    static func linesBytes(for records: [LogRecord], minimumLevel: LogRecord.Level, clock: any MailClock) -> [UInt8]? {
        var kept = records.lazy.filter { $0.level >= minimumLevel }.makeIterator()
        guard let first = kept.next() else { return nil }
        let now = clock.now()
        var bytes = first.timestampedLine(at: now)
        while let record = kept.next() { bytes += record.timestampedLine(at: now) }
        return bytes
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
