// SendmailHeaders: the header block of a message given to `sendmail`, as fields — the recipients `-t` reads
// from it, Bcc removal, and the Date:, From: and Message-ID: a submission agent adds when they are missing.

import PostOfficeCore

/// The header fields of a submitted message, kept byte for byte (folding and line endings included) except
/// where the submission rules of [RFC 6409 §8](https://www.rfc-editor.org/rfc/rfc6409#section-8) change them.
///
/// ```swift
/// var headers = SendmailHeaders(block)                     // the bytes before the blank line
/// let recipients = headers.recipients(defaultDomain: "mx.example.test")    // for -t
/// headers.removeBlindCopies()
/// headers.addMissing(date: "...", from: "...", messageID: "<...>")
/// let bytes = headers.bytes
/// ```
public struct SendmailHeaders: Hashable, Sendable {
    /// One field: its name as written and every physical line of it.
    public struct Field: Hashable, Sendable {
        /// The field name without the colon, as written (`Cc`, `CC`...).
        public var name: String
        /// The field's bytes: `Name: value`, continuation lines included, each line ending in LF or CRLF.
        public var bytes: [UInt8]

        /// The value, unfolded (line breaks removed, RFC 5322 §2.2.3), decoded as UTF-8 (invalid bytes replaced).
        public var value: String {
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return "" }
            let unfolded = bytes[(colon + 1)...].filter { $0 != 0x0D && $0 != 0x0A }
            return String(decoding: unfolded, as: UTF8.self)
        }

        /// True when the name is `name`, ignoring ASCII case.
        public func isNamed(_ name: String) -> Bool {
            self.name.utf8.count == name.utf8.count
                && zip(self.name.utf8, name.utf8).allSatisfy { Self.lower($0) == Self.lower($1) }
        }

        private static func lower(_ c: UInt8) -> UInt8 { (0x41...0x5A).contains(c) ? c | 0x20 : c }
    }

    /// The fields in order.
    public private(set) var fields: [Field]

    /// Splits a header block (the bytes before the empty line; see ``HeaderBlockCollector``) into fields.
    /// A last line without its line ending gets an LF. Lines before the first field that are not fields
    /// themselves (which the collector does not produce) are kept with the first field.
    public init(_ block: [UInt8]) {
        var fields: [Field] = []
        var start = 0
        while start < block.count {
            var end = block[start...].firstIndex(of: 0x0A).map { $0 + 1 } ?? block.count
            var line = Array(block[start..<end])
            if line.last != 0x0A { line.append(0x0A) }
            let isContinuation = line.first == 0x20 || line.first == 0x09
            if isContinuation, !fields.isEmpty {
                fields[fields.count - 1].bytes += line
            } else {
                fields.append(Field(name: Self.fieldName(line) ?? "", bytes: line))
            }
            end = max(end, start + 1)
            start = end
        }
        self.fields = fields
    }

    /// The name of a field line (`Name:` or the obsolete `Name :`), or nil when the line is not a field.
    public static func fieldName<Bytes: Collection<UInt8>>(_ line: Bytes) -> String? {
        var name: [UInt8] = []
        var index = line.startIndex
        while index < line.endIndex, (33...126).contains(line[index]), line[index] != UInt8(ascii: ":") {
            name.append(line[index])
            index = line.index(after: index)
        }
        guard !name.isEmpty else { return nil }
        while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 { index = line.index(after: index) }
        guard index < line.endIndex, line[index] == UInt8(ascii: ":") else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    /// The header block again, with the changes made.
    public var bytes: [UInt8] { fields.flatMap(\.bytes) }

    /// True when a field of this name exists (ASCII case ignored).
    public func contains(_ name: String) -> Bool { fields.contains { $0.isNamed(name) } }

    /// The fields `-t` reads: `Resent-To`, `Resent-Cc` and `Resent-Bcc` when there is any of them (a resent
    /// message goes to its new recipients only, as in sendmail and Postfix), else `To`, `Cc` and `Bcc`.
    public var recipientFieldNames: [String] {
        let resent = ["Resent-To", "Resent-Cc", "Resent-Bcc"]
        return resent.contains(where: contains) ? resent : ["To", "Cc", "Bcc"]
    }

    /// The recipients for `sendmail -t`, in header order, each once (canonical form), with the entries that
    /// are not addresses. Bare names get `defaultDomain`.
    public func recipients(defaultDomain: String) -> AddressListParser.Parsed {
        let names = recipientFieldNames
        var result = AddressListParser.Parsed()
        var seen: Set<String> = []
        for field in fields where names.contains(where: field.isNamed) {
            let parsed = AddressListParser.parse(field.value, defaultDomain: defaultDomain)
            for address in parsed.addresses where !MailAddress.contains(address.canonical, in: seen) {
                seen.insert(address.canonical)
                result.addresses.append(address)
            }
            result.invalid += parsed.invalid.map { "\(field.name): \($0)" }
        }
        return result
    }

    /// Removes `Bcc` and `Resent-Bcc`: blind copies must not show who else got the message
    /// ([RFC 5322 §3.6.3](https://www.rfc-editor.org/rfc/rfc5322#section-3.6.3), the first method, as sendmail does).
    public mutating func removeBlindCopies() {
        fields.removeAll { $0.isNamed("Bcc") || $0.isNamed("Resent-Bcc") }
    }

    /// Appends `Date:`, `From:` and `Message-ID:` for those missing (RFC 6409 §8.2, §8.3; RFC 5322 §3.6
    /// requires Date and From). Values are used as given; each line ends in LF (storage form).
    public mutating func addMissing(date: String, from: String, messageID: String) {
        for (name, value) in [("Date", date), ("From", from), ("Message-ID", messageID)] where !contains(name) {
            fields.append(Field(name: name, bytes: Array("\(name): \(value)\n".utf8)))
        }
    }

    /// The `From:` value for `address` with an optional full name (`sendmail -F`): `Name <a@x>`, the name
    /// quoted when it has specials and RFC 2047-encoded (UTF-8, base64) when it is not ASCII. Control
    /// characters in the name are dropped, so a name cannot start a header of its own.
    public static func fromValue(address: String, fullName: String?) -> String {
        let name = String(String.UnicodeScalarView((fullName ?? "").unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
        let trimmed = name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        guard !trimmed.isEmpty else { return address }
        return "\(displayName(trimmed)) <\(address)>"
    }

    /// A phrase for a display name: atoms as they are, else a quoted string, else encoded words.
    static func displayName(_ name: String) -> String {
        if name.utf8.allSatisfy({ $0 < 0x80 }) {
            if name.utf8.allSatisfy({ MailAddress.isAtext($0) || $0 == 0x20 }) { return name }
            var quoted = "\""
            for c in name.unicodeScalars {
                if c == "\"" || c == "\\" { quoted += "\\" }
                quoted.unicodeScalars.append(c)
            }
            return quoted + "\""
        }
        // RFC 2047 §5: encoded words of at most 75 characters, split between characters, separated by a space.
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in name {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?" + Base64.encode(chunk) + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Base64.encode(chunk) + "?=") }
        return words.joined(separator: " ")
    }

    /// A `Message-ID` value: `<` 24 random hex digits `@` host name `>` (RFC 5322 §3.6.4).
    public static func messageID(random: any RandomSource, hostname: String) -> String {
        "<\(random.token(length: 24))@\(hostname)>"
    }
}
