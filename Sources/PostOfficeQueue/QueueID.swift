// QueueID: the name of one queued message — its file name on disk and its handle in the CLI.
// Made from the arrival second and 64 random bits, so ids sort roughly by age and never need a counter.

import PostOfficeCore

/// The identifier of a queued message: 8+ hex digits of arrival time, then 16 hex digits of randomness.
public struct QueueID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The id as text; only `[0-9a-f]`, so it is always a safe file name.
    public let rawValue: String

    /// Accepts only what ``generate(clock:random:)`` can produce: 9 to 40 lower-case hex digits. Anything
    /// else (a path, `..`, an empty string from the CLI) is refused before it reaches the file system.
    public init?(_ text: String) {
        guard (9...40).contains(text.utf8.count),
            text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        rawValue = text
    }

    /// A new id for a message arriving now.
    public static func generate(clock: any MailClock, random: any RandomSource) -> QueueID {
        let seconds = String(UInt64(max(0, clock.now().seconds)), radix: 16)
        let time = String(repeating: "0", count: max(0, 8 - seconds.count)) + seconds
        let bits = String(random.next(), radix: 16)
        return QueueID(time + String(repeating: "0", count: 16 - bits.count) + bits)!
    }

    public var description: String { rawValue }

    public static func < (a: QueueID, b: QueueID) -> Bool { a.rawValue < b.rawValue }
}
