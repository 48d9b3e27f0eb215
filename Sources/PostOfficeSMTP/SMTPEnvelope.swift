// SMTPEnvelope: what the client said about one message before its content (HELO name, sender, recipients).
// Handed to the driver with beginMessage; only accepted recipients are in it.

import PostOfficeCore

/// The envelope of one mail transaction ([RFC 5321 §2.3.1](https://www.rfc-editor.org/rfc/rfc5321#section-2.3.1)).
public struct SMTPEnvelope: Hashable, Sendable {
    /// The name the client gave in HELO or EHLO.
    public var heloName: String
    /// True after EHLO, false after HELO.
    public var isExtended: Bool
    /// The reverse-path; nil for the null path `<>` (bounces).
    public var reversePath: MailAddress?
    /// Accepted recipients, in the order given (duplicates kept; the driver decides).
    public var recipients: [MailAddress]
    /// The MAIL FROM parameters.
    public var mailParameters: MailParameters
    /// One entry per element of ``recipients``.
    public var recipientParameters: [RecipientParameters]
    /// The identity the client authenticated as with AUTH (what the driver returned in
    /// ``SMTPAuthenticationResult/success(identity:)``), nil without AUTH: for `with ESMTPSA` in the Received
    /// header ([RFC 3848](https://www.rfc-editor.org/rfc/rfc3848)) and the sender policy.
    public var authenticatedIdentity: String?

    public init(
        heloName: String, isExtended: Bool, reversePath: MailAddress?, recipients: [MailAddress] = [],
        mailParameters: MailParameters = MailParameters(), recipientParameters: [RecipientParameters] = [],
        authenticatedIdentity: String? = nil
    ) {
        self.heloName = heloName
        self.isExtended = isExtended
        self.reversePath = reversePath
        self.recipients = recipients
        self.mailParameters = mailParameters
        self.recipientParameters = recipientParameters
        self.authenticatedIdentity = authenticatedIdentity
    }
}
