// DNSName: a domain name as its labels (raw octets, case preserved), with the RFC 1035 length limits.
// Equality is exact (so encode/decode round trips are checkable); `matches` compares case-insensitively.

/// A domain name: a sequence of labels of 1...63 octets, at most 255 octets in wire form.
///
/// See [RFC 1035 §2.3.4](https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4) and
/// [RFC 4343](https://www.rfc-editor.org/rfc/rfc4343) (case insensitivity).
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// The labels, most specific first, without the empty root label.
    public let labels: [[UInt8]]

    public static let maxLabelLength = 63
    public static let maxWireLength = 255
    /// The root name `.`, also the exchange of a null MX (RFC 7505).
    public static let root = DNSName(uncheckedLabels: [])

    init(uncheckedLabels: [[UInt8]]) { labels = uncheckedLabels }

    /// Throws unless every label has 1...63 octets and the name fits 255 octets.
    public init(labels: [[UInt8]]) throws(DNSMessageError) {
        for label in labels where label.isEmpty || label.count > Self.maxLabelLength {
            throw .invalidName(String(decoding: label, as: UTF8.self))
        }
        self.init(uncheckedLabels: labels)
        guard wireLength <= Self.maxWireLength else { throw .invalidName(description) }
    }

    /// Parses `mail.example.com` (a trailing dot is allowed; `.` alone is the root). `\.`, `\\` and `\DDD`
    /// escapes are read as in RFC 1035 §5.1 master files.
    public init(_ text: String) throws(DNSMessageError) {
        if text == "." {
            self = .root
            return
        }
        let labels = Self.plainLabels(text) ?? Self.escapedLabels(text)
        guard !labels.isEmpty else { throw .invalidName(text) }
        try self.init(labels: labels)
    }

    /// The labels of a name without backslashes, each copied once from the text (the general reading grows
    /// every label a byte at a time); an empty array when a label is empty (an invalid name); nil when the
    /// text holds a backslash, for ``escapedLabels(_:)``.
    static func plainLabels(_ text: String) -> [[UInt8]]? {
        var text = text
        return text.withUTF8 { bytes -> [[UInt8]]? in
            guard !bytes.contains(UInt8(ascii: "\\")) else { return nil }
            var labels: [[UInt8]] = []
            labels.reserveCapacity(4)
            var start = 0
            for index in 0..<bytes.count where bytes[index] == UInt8(ascii: ".") {
                guard index > start else { return [] }
                labels.append(Array(UnsafeBufferPointer(rebasing: bytes[start..<index])))
                start = index + 1
            }
            if start < bytes.count { labels.append(Array(UnsafeBufferPointer(rebasing: bytes[start...]))) }
            return labels
        }
    }

    /// The labels of `text` read byte by byte, `\DDD` and `\X` escapes decoded; an empty array when a label
    /// is empty or an escape is cut short or out of range (an invalid name).
    static func escapedLabels(_ text: String) -> [[UInt8]] {
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "."):
                guard !current.isEmpty else { return [] }
                labels.append(current)
                current = []
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return [] }
                let digits = bytes[index...].prefix(3)
                if digits.count == 3, digits.allSatisfy({ (48...57).contains($0) }) {
                    let value = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
                    guard value <= 255 else { return [] }
                    current.append(UInt8(value))
                    index += 3
                } else {
                    current.append(bytes[index])
                    index += 1
                }
            default:
                current.append(byte)
            }
        }
        if !current.isEmpty { labels.append(current) }
        return labels
    }

    /// Octets in uncompressed wire form: each label plus its length byte, plus the root byte.
    public var wireLength: Int { labels.reduce(1) { $0 + $1.count + 1 } }

    public var isRoot: Bool { labels.isEmpty }

    /// The name with ASCII letters folded to lower case (the form cache keys and comparisons use).
    public func lowercased() -> DNSName {
        // Most names already are (every cache lookup folds its key): then no new label arrays.
        guard labels.contains(where: { $0.contains(where: { (65...90).contains($0) }) }) else { return self }
        return DNSName(uncheckedLabels: labels.map { $0.map { (65...90).contains($0) ? $0 | 0x20 : $0 } })
    }

    /// True when both names are equal ignoring ASCII case (RFC 4343).
    public func matches(_ other: DNSName) -> Bool {
        labels.count == other.labels.count && lowercased() == other.lowercased()
    }

    /// Dotted text without the trailing dot (`.` for the root); `.`, `\` and non-printable octets escaped.
    public var description: String {
        guard !labels.isEmpty else { return "." }
        return labels.map { label in
            var text = ""
            for byte in label {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"): text += "\\" + String(UnicodeScalar(byte))
                case 33...126: text.append(Character(UnicodeScalar(byte)))
                default:
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            return text
        }.joined(separator: ".")
    }
}
