// RecipientParameters: the ESMTP parameters of RCPT TO (DSN NOTIFY and ORCPT).
// Parsed by SMTPCommandParser; one per accepted recipient in the envelope.

/// Parameters of `RCPT TO:<path> ...` ([RFC 3461 §4](https://www.rfc-editor.org/rfc/rfc3461#section-4)).
public struct RecipientParameters: Hashable, Sendable {
    /// When to send a DSN: `NOTIFY=NEVER` is the empty set
    /// ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1)).
    public struct DSNNotify: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let success = DSNNotify(rawValue: 1)
        public static let failure = DSNNotify(rawValue: 2)
        public static let delay = DSNNotify(rawValue: 4)
        /// `NOTIFY=NEVER`.
        public static let never: DSNNotify = []
    }

    /// `ORCPT=addr-type;xtext`, decoded ([RFC 3461 §4.2](https://www.rfc-editor.org/rfc/rfc3461#section-4.2)).
    public struct OriginalRecipient: Hashable, Sendable {
        /// The address type, such as `rfc822`.
        public var addressType: String
        /// The address, xtext-decoded.
        public var address: String

        public init(addressType: String, address: String) {
            self.addressType = addressType
            self.address = address
        }
    }

    /// `NOTIFY=`, nil when not given.
    public var dsnNotify: DSNNotify?
    /// `ORCPT=`, nil when not given.
    public var originalRecipient: OriginalRecipient?

    public init(dsnNotify: DSNNotify? = nil, originalRecipient: OriginalRecipient? = nil) {
        self.dsnNotify = dsnNotify
        self.originalRecipient = originalRecipient
    }
}
