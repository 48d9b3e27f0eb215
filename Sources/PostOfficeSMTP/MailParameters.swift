// MailParameters: the ESMTP parameters of MAIL FROM that the engine understands.
// Parsed and validated by SMTPCommandParser; handed to the driver with the sender check and the envelope.

/// Parameters of `MAIL FROM:<path> ...` ([RFC 5321 §4.1.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.2)).
public struct MailParameters: Hashable, Sendable {
    /// The body type declared with `BODY=` ([RFC 6152](https://www.rfc-editor.org/rfc/rfc6152),
    /// [RFC 3030 §3](https://www.rfc-editor.org/rfc/rfc3030#section-3)).
    public enum Body: String, Hashable, Sendable {
        case sevenBit = "7BIT"
        case eightBitMIME = "8BITMIME"
        case binaryMIME = "BINARYMIME"
    }

    /// What a DSN should return: `RET=FULL` or `RET=HDRS` ([RFC 3461 §4.3](https://www.rfc-editor.org/rfc/rfc3461#section-4.3)).
    public enum DSNReturn: String, Hashable, Sendable {
        case full = "FULL"
        case headers = "HDRS"
    }

    /// `SIZE=` declared message size in octets ([RFC 1870](https://www.rfc-editor.org/rfc/rfc1870)).
    public var size: Int?
    /// `BODY=`; `.sevenBit` when not given.
    public var body: Body = .sevenBit
    /// `SMTPUTF8` was given ([RFC 6531 §3.4](https://www.rfc-editor.org/rfc/rfc6531#section-3.4)).
    public var isSMTPUTF8 = false
    /// `RET=`.
    public var dsnReturn: DSNReturn?
    /// `ENVID=`, xtext-decoded ([RFC 3461 §4.4](https://www.rfc-editor.org/rfc/rfc3461#section-4.4)).
    public var envelopeID: String?
    /// `AUTH=`, xtext-decoded: the mailbox that submitted the message as another server vouches for it,
    /// or `<>` when unknown ([RFC 4954 §5](https://www.rfc-editor.org/rfc/rfc4954#section-5)). Accepted
    /// wherever AUTH is configured; it is a claim, not the session's own authentication (that is
    /// ``SMTPEnvelope/authenticatedIdentity``).
    public var submitter: String?

    public init(
        size: Int? = nil, body: Body = .sevenBit, isSMTPUTF8: Bool = false, dsnReturn: DSNReturn? = nil,
        envelopeID: String? = nil, submitter: String? = nil
    ) {
        self.size = size
        self.body = body
        self.isSMTPUTF8 = isSMTPUTF8
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
        self.submitter = submitter
    }
}
