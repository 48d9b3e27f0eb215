// MaildirFlags: the flag letters of a Maildir info part (`:2,FLAGS`), kept sorted and unique as maildir(5)
// asks. Upper-case letters are the standard flags; Dovecot stores keywords as lower-case letters.

/// The set of flag letters after `:2,` in a Maildir file name.
///
/// maildir(5) (https://cr.yp.to/proto/maildir.html) defines `P` (passed), `R` (replied), `S` (seen),
/// `T` (trashed), `D` (draft) and `F` (flagged), and requires the letters in ASCII order. Dovecot maps
/// IMAP keywords to the lower-case letters `a`…`z`. Any ASCII letter is accepted and kept.
public struct MaildirFlags: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The letters, sorted in ASCII order, without repeats.
    public private(set) var letters: [UInt8]

    /// An empty set.
    public init() { letters = [] }

    /// The flags spelled by `text`, or nil when `text` holds anything but ASCII letters.
    /// Order and repeats in `text` do not matter (`"SR"` and `"RSS"` are both `RS`).
    public init?(letters text: String) {
        // A bit per letter ('A' is 65 and 'z' 122, so byte - 64 fits a word): no allocation but the result's,
        // and every name a Maildir scan reads comes through here.
        var bits: UInt64 = 0
        for byte in text.utf8 {
            guard Self.isFlagLetter(byte) else { return nil }
            bits |= 1 << UInt64(byte - 64)
        }
        var letters: [UInt8] = []
        if bits != 0 {
            letters.reserveCapacity(bits.nonzeroBitCount)
            while bits != 0 {
                letters.append(UInt8(64 + bits.trailingZeroBitCount))
                bits &= bits - 1
            }
        }
        self.letters = letters
    }

    /// For literals in code; a literal with anything but letters is a programmer error.
    public init(stringLiteral value: String) {
        guard let flags = MaildirFlags(letters: value) else { preconditionFailure("not Maildir flag letters: \(value)") }
        self = flags
    }

    /// The message was resent, forwarded or bounced.
    public static let passed: UInt8 = UInt8(ascii: "P")
    /// The message was replied to.
    public static let replied: UInt8 = UInt8(ascii: "R")
    /// The message was seen (read). POP3 sets this on messages it has handed out.
    public static let seen: UInt8 = UInt8(ascii: "S")
    /// The message is marked for deletion (IMAP `\Deleted`).
    public static let trashed: UInt8 = UInt8(ascii: "T")
    /// The message is a draft.
    public static let draft: UInt8 = UInt8(ascii: "D")
    /// The message is flagged for urgent attention.
    public static let flagged: UInt8 = UInt8(ascii: "F")

    /// True for the bytes allowed as flags: ASCII letters.
    public static func isFlagLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
    }

    public var isEmpty: Bool { letters.isEmpty }

    public func contains(_ letter: UInt8) -> Bool { letters.contains(letter) }

    /// Adds `letter` (an ASCII letter; anything else is a programmer error).
    public mutating func insert(_ letter: UInt8) {
        precondition(Self.isFlagLetter(letter), "Maildir flags are ASCII letters")
        guard !letters.contains(letter) else { return }
        letters.append(letter)
        letters.sort()
    }

    public mutating func remove(_ letter: UInt8) {
        letters.removeAll { $0 == letter }
    }

    /// The union of both sets.
    public func union(_ other: MaildirFlags) -> MaildirFlags {
        var result = self
        for letter in other.letters { result.insert(letter) }
        return result
    }

    /// This set without the letters of `other`.
    public func subtracting(_ other: MaildirFlags) -> MaildirFlags {
        var result = self
        result.letters.removeAll { other.letters.contains($0) }
        return result
    }

    /// The letters as written after `:2,`.
    public var description: String {
        String(decoding: letters, as: UTF8.self)
    }
}
