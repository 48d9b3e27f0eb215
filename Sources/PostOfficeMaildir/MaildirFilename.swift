// MaildirFilename: parses and formats a Maildir message file name: `<base>[,FIELD...][:INFO]`.
// Total on any input (names come from disk and other tools): invalid names give nil, never a trap.

import PostOfficeCore

/// A Maildir message file name, such as `1700000000.M12P34.host,S=1200,W=1230:2,RS`.
///
/// - The *base* is the unique part, up to the first `,` or `:` (maildir(5),
///   https://cr.yp.to/proto/maildir.html). POP3 UIDLs and Dovecot's uidlist key on it.
/// - *Fields* follow, each after a `,`: `S=<bytes>` is the file size (Courier, Dovecot, Maildir++),
///   `W=<bytes>` the size with CRLF line ends (Dovecot's virtual size, what POP3 reports
///   per https://www.rfc-editor.org/rfc/rfc1939#section-5). Other fields are kept in order, verbatim.
/// - The *info* follows a `:`: `2,<flags>` (flags in ASCII order) or the experimental `1,<anything>`,
///   kept raw.
///
/// Formatting (``description``) writes the fields in their original order and flags sorted, so a
/// canonical name round-trips byte for byte and any name is stable after one parse/format cycle.
public struct MaildirFilename: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// One `,`-separated field after the base.
    public enum Field: Hashable, Sendable {
        /// `S=<bytes>`: the file's size.
        case size(Int)
        /// `W=<bytes>`: the size with CRLF line ends.
        case virtualSize(Int)
        /// Any other field, verbatim without its leading comma (`S=` with a non-number lands here too).
        case other(String)
    }

    /// The info part after `:`.
    public enum Info: Hashable, Sendable {
        /// `:2,<flags>`.
        case flags(MaildirFlags)
        /// `:1,<text>`: maildir(5)'s experimental semantics; `text` is kept as found.
        case experimental(String)
    }

    /// The unique part of the name.
    public var base: String
    /// The fields after the base, in order.
    public var fields: [Field]
    /// The info part, or nil when the name has no `:`.
    public var info: Info?

    /// A name from its parts. `base` must be a valid base (see ``isValidBase(_:)``): a programmer error otherwise.
    public init(base: String, fields: [Field] = [], info: Info? = nil) {
        precondition(Self.isValidBase(base), "invalid Maildir base name")
        self.base = base
        self.fields = fields
        self.info = info
    }

    /// Parses `name`; nil when it is not a Maildir message name: empty, starting with `.`, containing
    /// `/`, NUL or other control characters, with an empty base, or with an info part other than
    /// `1,...` or `2,<letters>`.
    public init?(_ name: String) {
        // Parsed on the bytes in place: a POP3 login parses every name in the Maildir.
        var name = name
        guard let parsed = name.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private init(parsedBase base: String, fields: [Field], info: Info?) {
        self.base = base
        self.fields = fields
        self.info = info
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> MaildirFilename? {
        guard let first = bytes.first, first != UInt8(ascii: ".") else { return nil }
        var colon = bytes.count
        var comma: Int?
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7f || byte == UInt8(ascii: "/") { return nil }
            if colon == bytes.count {
                if byte == UInt8(ascii: ":") {
                    colon = index
                } else if byte == UInt8(ascii: ","), comma == nil {
                    comma = index
                }
            }
        }
        let baseEnd = comma ?? colon
        guard baseEnd > 0 else { return nil }
        let base = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<baseEnd]), as: UTF8.self)

        var fields: [Field] = []
        if baseEnd < colon {
            // Every piece between commas is a field, empty ones too.
            var start = baseEnd + 1
            for index in start...colon where index == colon || bytes[index] == UInt8(ascii: ",") {
                fields.append(parseField(bytes[start..<index]))
                start = index + 1
            }
        }

        var info: Info?
        if colon < bytes.count {
            let infoBytes = bytes[(colon + 1)...]
            guard infoBytes.count >= 2, infoBytes[infoBytes.startIndex + 1] == UInt8(ascii: ",") else { return nil }
            let rest = infoBytes.dropFirst(2)
            switch infoBytes[infoBytes.startIndex] {
            case UInt8(ascii: "2"):
                guard let flags = MaildirFlags(letters: String(decoding: rest, as: UTF8.self)) else { return nil }
                info = .flags(flags)
            case UInt8(ascii: "1"):
                info = .experimental(String(decoding: rest, as: UTF8.self))
            default:
                return nil
            }
        }
        return MaildirFilename(parsedBase: base, fields: fields, info: info)
    }

    private static func parseField(_ part: Slice<UnsafeBufferPointer<UInt8>>) -> Field {
        if part.count > 2, part[part.startIndex + 1] == UInt8(ascii: "=") {
            let key = part[part.startIndex]
            if key == UInt8(ascii: "S") || key == UInt8(ascii: "W"), let value = Self.decimal(part.dropFirst(2)) {
                return key == UInt8(ascii: "S") ? .size(value) : .virtualSize(value)
            }
        }
        return .other(String(decoding: part, as: UTF8.self))
    }

    /// A non-negative decimal without sign or leading `+`, or nil (also on overflow). Leading zeros are
    /// refused so that formatting reproduces the name.
    static func decimal(_ digits: some Collection<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        if digits.count > 1 && digits.first == UInt8(ascii: "0") { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// True when `base` can be the unique part of a name: non-empty, not starting with `.`, without
    /// `/`, `,`, `:` or control characters.
    public static func isValidBase(_ base: String) -> Bool {
        guard let first = base.utf8.first, first != UInt8(ascii: ".") else { return false }
        return !base.utf8.contains { $0 < 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: ":") }
    }

    /// The `S=` size, if the name records one.
    public var size: Int? {
        get {
            for case .size(let value) in fields { return value }
            return nil
        }
        set { replaceField(newValue.map(Field.size)) { if case .size = $0 { true } else { false } } }
    }

    /// The `W=` size (CRLF line ends), if the name records one.
    public var virtualSize: Int? {
        get {
            for case .virtualSize(let value) in fields { return value }
            return nil
        }
        set { replaceField(newValue.map(Field.virtualSize)) { if case .virtualSize = $0 { true } else { false } } }
    }

    private mutating func replaceField(_ field: Field?, matching: (Field) -> Bool) {
        if let index = fields.firstIndex(where: matching) {
            if let field { fields[index] = field } else { fields.remove(at: index) }
        } else if let field {
            fields.append(field)
        }
    }

    /// The `:2,` flags; empty when the name has no info or experimental info. Setting it replaces
    /// the info part with `:2,<flags>`.
    public var flags: MaildirFlags {
        get {
            if case .flags(let flags) = info { return flags }
            return MaildirFlags()
        }
        set { info = .flags(newValue) }
    }

    /// The delivery time encoded at the start of the base by the usual generators: `<seconds>.` and,
    /// when the next part starts `M<microseconds>` (Dovecot, Courier, PostOffice), the microseconds.
    /// Postfix's `<seconds>.V...I...M<usec>` form is read too. Nil when the base does not start with digits.
    public var deliveryTime: MailTime? {
        var base = base
        return base.withUTF8(Self.deliveryTime(base:))
    }

    private static func deliveryTime(base bytes: UnsafeBufferPointer<UInt8>) -> MailTime? {
        guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")), let seconds = Self.decimalAllowingZeros(bytes[..<dot]) else {
            return nil
        }
        var microseconds = 0
        let rest = bytes[(dot + 1)...]
        let partEnd = rest.firstIndex(of: UInt8(ascii: ".")) ?? rest.endIndex
        let part = rest[..<partEnd]
        if let m = part.firstIndex(of: UInt8(ascii: "M")) {
            let digits = part[(m + 1)...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            if let value = Self.decimalAllowingZeros(digits), value < 1_000_000 { microseconds = value }
        }
        return MailTime(seconds: seconds, microseconds: microseconds)
    }

    private static func decimalAllowingZeros(_ digits: some Collection<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The name without its info part: `<base>[,FIELD...]` (what a message has in `new/`).
    public var nameWithoutInfo: String {
        var name = base
        for field in fields {
            name += ","
            switch field {
            case .size(let value): name += "S=\(value)"
            case .virtualSize(let value): name += "W=\(value)"
            case .other(let text): name += text
            }
        }
        return name
    }

    /// The file name.
    public var description: String {
        switch info {
        case nil: return nameWithoutInfo
        case .flags(let flags): return nameWithoutInfo + ":2," + flags.description
        case .experimental(let text): return nameWithoutInfo + ":1," + text
        }
    }

    /// Delivery order: by ``deliveryTime`` (names without one last), then by the name's bytes.
    public static func < (a: MaildirFilename, b: MaildirFilename) -> Bool {
        let ta = a.deliveryTime, tb = b.deliveryTime
        if ta != tb {
            guard let ta else { return false }
            guard let tb else { return true }
            return ta < tb
        }
        return Array(a.description.utf8).lexicographicallyPrecedes(Array(b.description.utf8))
    }
}
