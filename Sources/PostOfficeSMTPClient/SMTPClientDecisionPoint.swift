// SMTPClientDecisionPoint: the questions the client engine pauses on, and the answers it accepts.
// Only one so far: 8-bit content for a server without 8BITMIME (RFC 6152 §3 leaves it to the client).

/// A question for the driver, asked with ``SMTPClientAction/needsDecision(_:)``.
public enum SMTPClientDecisionPoint: Hashable, Sendable {
    /// The message is 8-bit and the server did not offer 8BITMIME: convert it to 7-bit MIME
    /// (quoted-printable or base64) or bounce it ([RFC 6152 §3](https://www.rfc-editor.org/rfc/rfc6152#section-3)).
    /// Answer with ``SMTPClientStateMachine/resolveEightBitContent(_:)``.
    case eightBitContentWithout8BITMIME
}

/// The driver's answer to ``SMTPClientDecisionPoint/eightBitContentWithout8BITMIME``.
public enum SMTPEightBitResolution: Hashable, Sendable {
    /// The driver will stream a 7-bit conversion of the content: send it without `BODY=8BITMIME`.
    case convertToSevenBit
    /// Fail the message permanently with 5.6.3 (conversion required but not supported).
    case bounce
}
