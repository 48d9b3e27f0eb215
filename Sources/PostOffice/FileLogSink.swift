// FileLogSink: the CLI's `log_file` — the same logfmt lines as standard error, appended to a file that is
// reopened on SIGHUP, so logrotate can move it away (`postrotate kill -HUP ...`) without copytruncate.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// Appends each record as one logfmt line to a file, and passes it on to another sink (standard error).
public final class FileLogSink: LogSink, @unchecked Sendable {
    /// The file written to.
    public let path: String
    public let minimumLevel: LogRecord.Level
    private let next: (any LogSink)?
    private let clock: any MailClock
    private let lock = Lock()
    private var descriptor: Int32

    /// Opens (creating with mode 0640) `path` for appending.
    /// - Throws: ``SystemError`` when the file cannot be opened.
    public init(
        path: String, minimumLevel: LogRecord.Level = .info, next: (any LogSink)? = nil, clock: any MailClock = SystemClock()
    ) throws(SystemError) {
        self.path = path
        self.minimumLevel = minimumLevel
        self.next = next
        self.clock = clock
        descriptor = try Self.open(path)
    }

    deinit { close(descriptor) }

    /// Opens the file again (after logrotate renamed it); the old descriptor is closed once the new one
    /// is in place, so no line is lost. On failure the old file stays in use.
    public func reopen() throws(SystemError) {
        let fresh = try Self.open(path)
        let old = lock.withLock {
            defer { descriptor = fresh }
            return descriptor
        }
        close(old)
    }

    public func log(_ record: LogRecord) {
        next?.log(record)
        guard record.level >= minimumLevel else { return }
        let line = StandardErrorLogSink.lineBytes(for: record, at: clock.now())
        lock.withLock {
            // O_APPEND and one write(2) per line: concurrent lines do not interleave.
            line.withUnsafeBufferPointer { _ = write(descriptor, $0.baseAddress, $0.count) }
        }
    }

    /// The lines appended in one write(2).
    public func log(_ records: [LogRecord]) {
        next?.log(records)
        guard let bytes = StandardErrorLogSink.linesBytes(for: records, minimumLevel: minimumLevel, clock: clock) else { return }
        lock.withLock {
            bytes.withUnsafeBufferPointer { _ = write(descriptor, $0.baseAddress, $0.count) }
        }
    }

    private static func open(_ path: String) throws(SystemError) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SystemError("open", errno: errno, detail: path) }
        return fd
    }
}
