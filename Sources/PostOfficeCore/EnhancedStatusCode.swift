// EnhancedStatusCode: the class.subject.detail triple of RFC 3463, shared by SMTP replies and delivery outcomes.
// Every SMTP reply carries one (RFC 2034); delivery outcomes use them to say why a copy failed.

/// An RFC 3463 enhanced mail system status code, such as `5.1.1` (bad destination mailbox address).
///
/// See [RFC 3463](https://www.rfc-editor.org/rfc/rfc3463) and
/// [RFC 2034](https://www.rfc-editor.org/rfc/rfc2034) for its use in SMTP replies.
public struct EnhancedStatusCode: Hashable, Sendable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public var statusClass: Int
    /// The subject, for example 1 for addressing or 7 for security.
    public var subject: Int
    /// The detail within the subject.
    public var detail: Int

    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses `"5.1.1"`; returns nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let c = Int(parts[0]), let s = Int(parts[1]), let d = Int(parts[2]),
            [2, 4, 5].contains(c), (0...999).contains(s), (0...999).contains(d)
        else { return nil }
        self.init(c, s, d)
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }

    /// True for 4.x.x: the client may try again later.
    public var isTemporary: Bool { statusClass == 4 }
    /// True for 5.x.x.
    public var isPermanent: Bool { statusClass == 5 }
}
