// LogSink: where a PostOffice component sends its events; the embedder supplies it, nothing is global.
// One LogRecord is one line (logfmt): event name, session id, then key=value fields.

/// Receives log records. Implementations must be thread-safe: records come from many sessions at once.
public protocol LogSink: Sendable {
    func log(_ record: LogRecord)
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
    public var logfmt: String {
        var line = "level=\(level.rawValue) event=\(Self.escape(event))"
        if let sessionID { line += " session=\(Self.escape(sessionID))" }
        for (k, v) in fields { line += " \(k)=\(Self.escape(v))" }
        return line
    }

    /// Quotes a value when it has spaces, quotes, `=` or control characters, so a hostile value cannot
    /// forge a second record or field.
    public static func escape(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { c in
            c == " " || c == "\"" || c == "=" || c == "\\" || c.value < 0x20 || c.value == 0x7f
        }
        guard needsQuotes else { return value }
        var out = "\""
        for c in value.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7f {
                    out += "\\x" + String(c.value, radix: 16)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
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
