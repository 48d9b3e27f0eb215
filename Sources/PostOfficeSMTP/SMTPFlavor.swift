// SMTPFlavor: which protocol one server engine speaks — SMTP/ESMTP, or LMTP (RFC 2033), its local
// delivery variant: LHLO instead of EHLO/HELO, and one reply per accepted recipient after the message.

/// The protocol a ``SMTPServerStateMachine`` speaks.
public enum SMTPFlavor: String, Sendable, Hashable {
    /// SMTP ([RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)): EHLO/HELO, one reply per message.
    case smtp
    /// LMTP ([RFC 2033](https://www.rfc-editor.org/rfc/rfc2033)): LHLO (EHLO and HELO are refused with
    /// 500 5.5.1), PIPELINING always offered, and after the end of DATA or `BDAT LAST` one reply for each
    /// accepted RCPT, in RCPT order ([RFC 2033 §4.2](https://www.rfc-editor.org/rfc/rfc2033#section-4.2)).
    case lmtp
}
