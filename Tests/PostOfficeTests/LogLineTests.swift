// LogLineTests: the line the CLI's log sinks write (`ts=... level=... event=...`), now built as bytes in one
// buffer, is exactly the text of the String-built version it replaced (kept here as the reference).

import PostOfficeCore
import Testing
@testable import PostOffice
#if canImport(Glibc)
import Glibc
#endif

struct LogLineTests {
    /// The line as it was built before: the reference.
    static func referenceLine(for record: LogRecord, at now: MailTime) -> String {
        func format2(_ value: Int, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var time = time_t(now.seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let stamp = String(
            format2(Int(parts.tm_year) + 1900, 4) + "-" + format2(Int(parts.tm_mon) + 1, 2) + "-" + format2(Int(parts.tm_mday), 2)
                + "T" + format2(Int(parts.tm_hour), 2) + ":" + format2(Int(parts.tm_min), 2) + ":" + format2(Int(parts.tm_sec), 2)
                + "." + format2(now.microseconds / 1000, 3) + "Z")
        return "ts=\(stamp) " + record.logfmt + "\n"
    }

    static let record = LogRecord(.warning, "pop3.login_failed", session: "AAAAAAAAAA", [("user", "a b"), ("client", "192.0.2.7")])

    @Test(arguments: [
        (MailTime(seconds: 1_767_323_045, microseconds: 100_999), "ts=2026-01-02T03:04:05.100Z "),
        (MailTime(seconds: 0), "ts=1970-01-01T00:00:00.000Z "),
        (MailTime(seconds: 1_767_323_045, microseconds: 999_999), "ts=2026-01-02T03:04:05.999Z "),
        (MailTime(seconds: 1_767_323_045, microseconds: 5_000), "ts=2026-01-02T03:04:05.005Z "),
        (MailTime(seconds: 1_767_323_045, microseconds: 42_000), "ts=2026-01-02T03:04:05.042Z "),
        (MailTime(seconds: -1000), "ts=1969-12-31T23:43:20.000Z "),
        (MailTime(seconds: -62_135_596_800), "ts=0001-01-01T00:00:00.000Z "),
        (MailTime(seconds: 253_402_300_799), "ts=9999-12-31T23:59:59.000Z "),
        (MailTime(seconds: 253_402_300_800), "ts=10000-01-01T00:00:00.000Z "),
        (MailTime(seconds: 0, microseconds: -5_000), "ts=1970-01-01T00:00:00.0-5Z "),  // out of range: as before
        (MailTime(seconds: 0, microseconds: 12_345_678), "ts=1970-01-01T00:00:00.12345Z "),
        (MailTime(seconds: 0, microseconds: 999_999_999_999), "ts=1970-01-01T00:00:00.999999999Z "),
        (MailTime(seconds: 0, microseconds: -1_000_000), "ts=1970-01-01T00:00:00.-1000Z "),
        (MailTime(seconds: 1_767_225_599, microseconds: 1_000), "ts=2025-12-31T23:59:59.001Z "),
    ] as [(MailTime, String)])
    func timestampAndLineAsTheReference(time: MailTime, stamp: String) {
        let expected = stamp + "level=warning event=pop3.login_failed session=AAAAAAAAAA user=\"a b\" client=192.0.2.7\n"
        #expect(StandardErrorLogSink.line(for: Self.record, at: time) == expected)
        #expect(Self.referenceLine(for: Self.record, at: time) == expected)
        #expect(StandardErrorLogSink.lineBytes(for: Self.record, at: time) == Array(expected.utf8))
    }

    /// A delivery's lines go to the sink together: the kept ones (at or above the level), in order, each the
    /// line ``StandardErrorLogSink/lineBytes(for:at:)`` builds, all with one reading of the clock.
    @Test func recordsTogetherAreTheirLinesInOrder() {
        let time = MailTime(seconds: 1_767_323_045, microseconds: 100_999)
        let clock = ManualClock(time)
        let records = [
            LogRecord(.info, "delivery.stored", session: "S1", [("user", "a@example.test")]),
            LogRecord(.debug, "delivery.detail", session: "S1"),
            LogRecord(.info, "delivery.stored", session: "S1", [("user", "b@example.test")]),
        ]
        let bytes = StandardErrorLogSink.linesBytes(for: records, minimumLevel: .info, clock: clock)
        let expected = StandardErrorLogSink.lineBytes(for: records[0], at: time) + StandardErrorLogSink.lineBytes(for: records[2], at: time)
        #expect(bytes == expected)
        #expect(StandardErrorLogSink.linesBytes(for: [records[1]], minimumLevel: .info, clock: clock) == nil)
        #expect(StandardErrorLogSink.linesBytes(for: [], minimumLevel: .debug, clock: clock) == nil)
    }

    /// The log file gets the batch's lines, appended after what was there, and passes the records on.
    @Test func fileSinkAppendsTheBatchAndPassesItOn() throws {
        final class Collecting: LogSink, @unchecked Sendable {
            var records: [LogRecord] = []
            func log(_ record: LogRecord) { records.append(record) }
        }
        var template = Array(FileManagerPath.temporaryTemplate.utf8CString)
        let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { _ = unlink(directory + "/mail.log"); _ = rmdir(directory) }
        let time = MailTime(seconds: 1_767_323_045)
        let next = Collecting()
        let sink = try FileLogSink(path: directory + "/mail.log", next: next, clock: ManualClock(time))
        let first = LogRecord(.info, "smtp.connect", session: "S1")
        let batch = [LogRecord(.info, "delivery.stored", session: "S1", [("user", "a")]),
                     LogRecord(.info, "delivery.stored", session: "S1", [("user", "b")])]
        sink.log(first)
        sink.log(batch)
        let written = try #require(FileManagerPath.contents(of: directory + "/mail.log"))
        let expected = ([first] + batch).flatMap { StandardErrorLogSink.lineBytes(for: $0, at: time) }
        #expect(written == expected)
        #expect(next.records == [first] + batch)
    }
}

/// Small file helpers for these tests (no Foundation in this file).
enum FileManagerPath {
    static var temporaryTemplate: String { (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/loglines.XXXXXX" }

    static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }
}
