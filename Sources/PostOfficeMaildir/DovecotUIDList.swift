// DovecotUIDList: reads Dovecot's `dovecot-uidlist` (versions 1 and 3) so a Maildir taken over from
// Dovecot keeps its POP3 UIDLs: base name -> IMAP UID, plus the UIDVALIDITY that goes into the UIDL.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// The contents of a Dovecot `dovecot-uidlist` file.
///
/// Version 3 (Dovecot 1.1+): a header `3 V<uidvalidity> N<nextuid> G<guid>` and lines
/// `<uid> [<extension>...] :<filename>`, extensions being a letter and a value (`W1234`, `S1200`).
/// Version 1: a header `1 <uidvalidity> <nextuid>` and lines `<uid> <filename>`.
/// See https://doc.dovecot.org/admin_manual/mailbox_formats/maildir/ ("dovecot-uidlist").
/// Lines that do not parse are skipped and counted; a bad header makes the whole file unusable.
public struct DovecotUIDList: Hashable, Sendable {
    /// One message line.
    public struct Entry: Hashable, Sendable {
        public var uid: UInt32
        /// The file name as recorded (usually `<base>,S=..,W=..` without the info part).
        public var filename: String
        /// The extension fields by key letter (`W` → `"1234"`), version 3 only.
        public var extensions: [Character: String]
        /// The Maildir base name: `filename` up to the first `,` or `:`.
        public var baseName: String {
            String(filename.prefix { $0 != "," && $0 != ":" })
        }
    }

    /// The file's name inside a Maildir.
    public static let fileName = "dovecot-uidlist"

    public var version: Int
    /// The mailbox's IMAP UIDVALIDITY (RFC 3501 section 2.3.1.1).
    public var uidValidity: UInt32
    /// The UID the next new message will get.
    public var nextUID: UInt32
    /// The mailbox GUID (`G`), version 3 only.
    public var mailboxGUID: String?
    /// The message lines in file order.
    public var entries: [Entry]
    /// Lines that were neither valid entries nor empty.
    public var ignoredLineCount: Int

    /// Parses the file's text; nil when the header is not a version 1 or 3 header.
    public init?(parsing text: String) {
        // "\r\n" is one Character in Swift, so both line ends are separators.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }[...]
        guard let header = lines.popFirst() else { return nil }
        let fields = header.split(separator: " ")
        guard let versionField = fields.first, let version = Int(versionField) else { return nil }
        self.version = version
        mailboxGUID = nil
        switch version {
        case 1:
            guard fields.count >= 3, let validity = UInt32(fields[1]), let next = UInt32(fields[2]) else { return nil }
            uidValidity = validity
            nextUID = next
        case 3:
            var validity: UInt32?
            var next: UInt32?
            for field in fields.dropFirst() {
                guard let key = field.first else { continue }
                let value = field.dropFirst()
                switch key {
                case "V": validity = UInt32(value)
                case "N": next = UInt32(value)
                case "G": mailboxGUID = String(value)
                default: break
                }
            }
            guard let validity, let next else { return nil }
            uidValidity = validity
            nextUID = next
        default:
            return nil
        }

        entries = []
        ignoredLineCount = 0
        for line in lines where !line.isEmpty {
            if let entry = version == 1 ? Self.versionOneEntry(line) : Self.versionThreeEntry(line) {
                entries.append(entry)
            } else {
                ignoredLineCount += 1
            }
        }
    }

    private static func versionOneEntry(_ line: Substring) -> Entry? {
        guard let space = line.firstIndex(of: " "), let uid = UInt32(line[..<space]), uid > 0 else { return nil }
        let filename = String(line[line.index(after: space)...])
        guard MaildirFilename(filename) != nil else { return nil }
        return Entry(uid: uid, filename: filename, extensions: [:])
    }

    private static func versionThreeEntry(_ line: Substring) -> Entry? {
        guard let space = line.firstIndex(of: " "), let uid = UInt32(line[..<space]), uid > 0 else { return nil }
        // The file name is everything after the first " :"; extensions sit between uid and it.
        let rest = line[line.index(after: space)...]
        var marker = rest.startIndex
        while marker < rest.endIndex {
            if rest[marker] == ":" && (marker == rest.startIndex || rest[rest.index(before: marker)] == " ") { break }
            marker = rest.index(after: marker)
        }
        guard marker < rest.endIndex else { return nil }
        let filename = String(rest[rest.index(after: marker)...])
        guard MaildirFilename(filename) != nil else { return nil }
        var extensions: [Character: String] = [:]
        for token in rest[..<marker].split(separator: " ") {
            guard let key = token.first else { continue }
            extensions[key] = String(token.dropFirst())
        }
        return Entry(uid: uid, filename: filename, extensions: extensions)
    }

    /// Reads `<maildir>/dovecot-uidlist`. Nil when the file does not exist or does not parse; other
    /// read errors throw.
    public init?(maildir: Maildir, maximumSize: Int = 64 << 20) throws(SystemError) {
        let path = maildir.path + "/" + Self.fileName
        // O_NOFOLLOW: a planted link must not make another file's lines our UIDs.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError("open", errno: errno, detail: path)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        let chunk = 65536
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let n = try SystemCall.retrying("read", detail: path) { read(fd, buffer.baseAddress, chunk) }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[..<n])
            if bytes.count > maximumSize { return nil }
        }
        self.init(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// Base name → UID. When a base appears twice (a corrupt file), the first line wins.
    public var uidsByBaseName: [String: UInt32] {
        var map: [String: UInt32] = [:]
        for entry in entries where map[entry.baseName] == nil {
            map[entry.baseName] = entry.uid
        }
        return map
    }

    /// The POP3 UIDL Dovecot gives the message with `uid` under its default `pop3_uidl_format`
    /// `%08Xu%08Xv` (see ``uniqueIDListing(uid:uidValidity:)``).
    public func uniqueIDListing(uid: UInt32) -> String {
        Self.uniqueIDListing(uid: uid, uidValidity: uidValidity)
    }

    /// Dovecot's default POP3 UIDL, `pop3_uidl_format = %08Xu%08Xv`: the UID and the UIDVALIDITY as
    /// upper-case hex, each zero-padded to 8 digits (16 characters, within RFC 1939's 70 for a UIDL,
    /// https://www.rfc-editor.org/rfc/rfc1939#section-7).
    public static func uniqueIDListing(uid: UInt32, uidValidity: UInt32) -> String {
        hex8(uid) + hex8(uidValidity)
    }

    private static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
