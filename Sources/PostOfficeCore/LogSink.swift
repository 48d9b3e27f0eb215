// LogSink: where a PostOffice component sends its events; the embedder supplies it, nothing is global.
// One LogRecord is one line (logfmt): event name, session id, then key=value fields.

/// Receives log records. Implementations must be thread-safe: records come from many sessions at once.
public protocol LogSink: Sendable {
    func log(_ record: LogRecord)
    /// Several records of one event at once, in order (a delivery's line per mailbox). A sink writing lines
    /// may write them together, in one system call; the default passes each to ``log(_:)``.
    func log(_ records: [LogRecord])
}

extension LogSink {
    public func log(_ records: [LogRecord]) {
        for record in records { log(record) }
    }
}

/// A sink that drops everything.
public struct DiscardingLogSink: LogSink {
    public init() {}
    public func log(_ record: LogRecord) {}
}

/// One event: a line in the log.
public struct LogRecord: Sendable, Hashable {
    public enum Level: String, Sendable, Hashable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
        var rank: Int {
            switch self {
            case .debug: 0
            case .info: 1
            case .warning: 2
            case .error: 3
            }
        }
    }

    public var level: Level
    /// A short machine-friendly name, such as `smtp.connect` or `delivery.stored`.
    public var event: String
    /// The session this event belongs to, if any.
    public var sessionID: String?
    /// Ordered key/value pairs.
    public var fields: [(String, String)]

    public init(_ level: Level = .info, _ event: String, session sessionID: String? = nil, _ fields: [(String, String)] = []) {
        self.level = level
        self.event = event
        self.sessionID = sessionID
        self.fields = fields
    }

    /// The logfmt line: `level=info event=smtp.connect session=ab12 peer=127.0.0.1`.
    public var logfmt: String { String(decoding: logfmtBytes, as: UTF8.self) }

    /// ``logfmt`` as UTF-8 bytes, appended to one array reserved for its counted size (every message logs several
    /// lines, so this is on the hot path).
    public var logfmtBytes: [UInt8] {
        let count = logfmtCount
        var writer = LogByteWriter(capacity: count)
        writeLogfmt(to: &writer)
        return writer.bytes
    }

    /// The exact number of bytes of ``logfmt``.
    var logfmtCount: Int {
        var count = 13 + level.rawValue.utf8.count + Self.escapedCount(event)  // `level=` and ` event=`
        if let sessionID { count += 9 + Self.escapedCount(sessionID) }  // ` session=`
        for (key, value) in fields { count += 2 + key.utf8.count + Self.escapedCount(value) }
        return count
    }

    /// Writes the ``logfmt`` bytes (``logfmtCount`` of them).
    func writeLogfmt(to writer: inout LogByteWriter) {
        writer.write("level=")
        writer.write(level.rawValue)
        writer.write(" event=")
        writer.writeEscaped(event)
        if let sessionID {
            writer.write(" session=")
            writer.writeEscaped(sessionID)
        }
        for (key, value) in fields {
            writer.write(UInt8(ascii: " "))
            writer.write(key)
            writer.write(UInt8(ascii: "="))
            writer.writeEscaped(value)
        }
    }

    /// Quotes a value when it has spaces, quotes, `=` or control characters, so a hostile value cannot
    /// forge a second record or field.
    public static func escape(_ value: String) -> String {
        let count = escapedCount(value)
        if count == value.utf8.count { return value }  // nothing to quote (quoting adds at least the quotes)
        var writer = LogByteWriter(capacity: count)
        writer.writeEscaped(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The byte count of ``escape(_:)`` of `value`. Every character that needs quoting or escaping is
    /// ASCII and UTF-8 never uses ASCII bytes inside a longer sequence, so a scan of the bytes is exact.
    static func escapedCount(_ value: String) -> Int {
        var value = value
        return value.withUTF8 { utf8 in
            guard needsQuotes(utf8) else { return utf8.count }
            var count = 2
            for byte in utf8 {
                switch byte {
                case 0x22, 0x5C, 0x0A, 0x0D, 0x09: count += 2  // `\"`, `\\`, `\n`, `\r`, `\t`
                case 0x00..<0x10: count += 3  // `\x1`
                case 0x10..<0x20, 0x7F: count += 4  // `\x1b`, `\x7f`
                default: count += 1
                }
            }
            return count
        }
    }

    /// True when `utf8` must be quoted: empty, or holding a space, `"`, `=`, a backslash, a control character or DEL.
    static func needsQuotes(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        if utf8.isEmpty { return true }
        for byte in utf8 where byte <= 0x20 || byte == 0x22 || byte == 0x3D || byte == 0x5C || byte == 0x7F {
            return true
        }
        return false
    }

    public static func == (a: LogRecord, b: LogRecord) -> Bool {
        a.level == b.level && a.event == b.event && a.sessionID == b.sessionID
            && a.fields.map { $0.0 } == b.fields.map { $0.0 } && a.fields.map { $0.1 } == b.fields.map { $0.1 }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(level)
        hasher.combine(event)
        hasher.combine(sessionID)
        for (k, v) in fields {
            hasher.combine(k)
            hasher.combine(v)
        }
    }

    /// The value of the first field named `key`.
    public subscript(key: String) -> String? { fields.first { $0.0 == key }?.1 }
}
