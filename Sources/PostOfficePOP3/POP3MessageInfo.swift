// POP3MessageInfo: what the runtime tells the engine about one message of the maildrop snapshot taken at
// login, and the deterministic repair of unique-ids that RFC 1939 §7 would not allow on the wire.

/// One message of a maildrop snapshot, numbered by its position (1-based) in the list given at login.
public struct POP3MessageInfo: Hashable, Sendable {
    /// The persistent unique-id shown by UIDL ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#page-12)),
    /// independent of the storage key (for Maildir: the file's base name before `:2,`, or a dovecot-uidlist
    /// entry). Invalid ids are repaired by ``sanitizedUniqueID(_:)``.
    public var uniqueID: String
    /// The message's exact size on the wire with CRLF line endings, before byte-stuffing; shown by LIST/STAT
    /// and in the RETR `+OK` line.
    public var octets: Int
    /// Opaque to the engine; handed back in ``POP3Action/sendMessage(storageKey:octets:bodyLineLimit:)``
    /// and ``POP3Action/commit(deleted:retrieved:)`` (for Maildir: the file path).
    public var storageKey: String

    public init(uniqueID: String, octets: Int, storageKey: String) {
        self.uniqueID = uniqueID
        self.octets = octets
        self.storageKey = storageKey
    }

    /// Longest unique-id RFC 1939 allows.
    public static let maximumUniqueIDLength = 70

    /// Whether `id` may be sent as a UIDL unique-id: 1 to 70 characters in 0x21...0x7E.
    public static func isValidUniqueID(_ id: String) -> Bool {
        let bytes = id.utf8
        return !bytes.isEmpty && bytes.count <= maximumUniqueIDLength && bytes.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    /// Returns `id` unchanged when valid. Otherwise, deterministically (the same input gives the same id in
    /// every session, so clients keeping "leave on server" state stay consistent): up to 37 of its valid
    /// characters, then `~`, then 32 hex digits of a 128-bit FNV-1a digest of all its bytes. The digest keeps
    /// distinct invalid ids distinct; `~` followed by 32 hex digits at the end marks a repaired id.
    public static func sanitizedUniqueID(_ id: String) -> String {
        if isValidUniqueID(id) { return id }
        var prefix: [UInt8] = []
        for byte in id.utf8 where byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "~") {
            guard prefix.count < 37 else { break }
            prefix.append(byte)
        }
        // Two independent 64-bit FNV-1a lanes (different offset bases) make a 128-bit digest.
        var low: UInt64 = 0xCBF2_9CE4_8422_2325
        var high: UInt64 = 0x6C62_272E_07BB_0142
        for byte in id.utf8 {
            low = (low ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            high = (high ^ UInt64(byte ^ 0x5A)) &* 0x0000_0100_0000_01B3
        }
        var result = String(decoding: prefix, as: UTF8.self) + "~"
        for lane in [high, low] {
            let hex = String(lane, radix: 16)
            result += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return result
    }
}
