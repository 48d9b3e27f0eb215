// DSNReturnContent: how much of the original a report carries — RET= (RFC 3461 §4.3) plus the size rule
// for when the sender did not say.

/// What part of the original message a report returns
/// ([RFC 3461 §4.3](https://www.rfc-editor.org/rfc/rfc3461#section-4.3)).
public enum DSNReturnContent: String, Hashable, Sendable {
    /// The whole message, as `message/rfc822` (`RET=FULL`).
    case full = "FULL"
    /// Only its header section, as `text/rfc822-headers` (`RET=HDRS`).
    case headers = "HDRS"

    /// Parses `FULL` / `HDRS` (case-insensitive); nil for absent or anything else.
    public init?(parameter: String?) {
        guard let parameter, let value = DSNReturnContent(rawValue: parameter.uppercased()) else { return nil }
        self = value
    }
}
