// MaildirScan: the snapshot a MaildirScanner returns: the messages in delivery order and how many
// directory entries were passed over.

/// The result of one scan.
public struct MaildirScan: Hashable, Sendable {
    /// The messages, ordered by the delivery time in their base names, then by name.
    public var messages: [MaildirMessage]
    /// How many entries were passed over: dot files, subdirectories, symbolic links and other non-regular
    /// files, names that are not Maildir names (including names that are not UTF-8).
    public var skippedCount: Int

    public init(messages: [MaildirMessage], skippedCount: Int) {
        self.messages = messages
        self.skippedCount = skippedCount
    }
}
