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
        var bytes: [UInt8] = []
        appendLogfmt(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the ``logfmt`` line's UTF-8 bytes to `bytes`: built byte by byte into one buffer (a sink
    /// writes it with no String in between; every message logs several lines, so this is on the hot path).
    public func appendLogfmt(to bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + estimatedLogfmtCount)
        Self.appendText("level=", to: &bytes)
        Self.appendText(level.rawValue, to: &bytes)
        Self.appendText(" event=", to: &bytes)
        Self.appendEscaped(event, to: &bytes)
        if let sessionID {
            Self.appendText(" session=", to: &bytes)
            Self.appendEscaped(sessionID, to: &bytes)
        }
        for (key, value) in fields {
            bytes.append(UInt8(ascii: " "))
            Self.appendText(key, to: &bytes)
            bytes.append(UInt8(ascii: "="))
            Self.appendEscaped(value, to: &bytes)
        }
    }

    /// About how many bytes ``logfmt`` has: room to reserve (quoted values may need a little more).
    public var estimatedLogfmtCount: Int {
        var count = 24 + event.utf8.count + (sessionID?.utf8.count ?? 0)
        for (key, value) in fields { count += key.utf8.count + value.utf8.count + 4 }
        return count
    }

    /// Quotes a value when it has spaces, quotes, `=` or control characters, so a hostile value cannot
    /// forge a second record or field.
    public static func escape(_ value: String) -> String {
        guard needsQuotes(value) else { return value }
        var bytes: [UInt8] = []
        appendEscaped(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``escape(_:)`` of `value` to `bytes`. Every character that needs quoting or escaping is ASCII
    /// and UTF-8 never uses ASCII bytes inside a longer sequence, so a scan of the bytes is exact.
    public static func appendEscaped(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        value.withUTF8 { utf8 in
            guard needsQuotes(utf8) else {
                bytes.append(contentsOf: utf8)
                return
            }
            bytes.append(UInt8(ascii: "\""))
            var copied = 0  // bytes of `utf8` before this index are in `bytes` already
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x7F else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[copied..<index]))
                copied = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case 0x22: bytes.append(0x22)
                case 0x5C: bytes.append(0x5C)
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    // `\x` and the lower-case hex value without leading zeros (`\x1`, `\x1b`, `\x7f`).
                    bytes.append(UInt8(ascii: "x"))
                    if byte >= 0x10 { bytes.append(hexDigit(byte >> 4)) }
                    bytes.append(hexDigit(byte & 0x0F))
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[copied...]))
            bytes.append(UInt8(ascii: "\""))
        }
    }

    /// True when `value` must be quoted: empty, or holding a space, `"`, `=`, a backslash, a control character or DEL.
    static func needsQuotes(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { needsQuotes($0) }
    }

    private static func needsQuotes(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        if utf8.isEmpty { return true }
        for byte in utf8 where byte <= 0x20 || byte == 0x22 || byte == 0x3D || byte == 0x5C || byte == 0x7F {
            return true
        }
        return false
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// Appends `text` unchanged.
    private static func appendText(_ text: String, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
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
