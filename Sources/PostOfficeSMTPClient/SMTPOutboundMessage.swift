// SMTPOutboundMessage: one message to send: envelope, declared size and what its content needs of the server.
// The content itself is not here: the engine asks the driver for it in chunks (readContent).

import PostOfficeCore
import PostOfficeSMTP

/// The envelope and properties of one message for ``SMTPClientStateMachine/deliver(_:)``.
public struct SMTPOutboundMessage: Hashable, Sendable {
    /// One recipient with its DSN parameters ([RFC 3461 §4](https://www.rfc-editor.org/rfc/rfc3461#section-4)),
    /// sent only when the server offers DSN.
    public struct Recipient: Hashable, Sendable {
        public var address: MailAddress
        public var parameters: RecipientParameters

        public init(_ address: MailAddress, parameters: RecipientParameters = RecipientParameters()) {
            self.address = address
            self.parameters = parameters
        }
    }

    /// The reverse-path; nil is `<>` (bounces).
    public var reversePath: MailAddress?
    /// The forward-paths, in order; results come back in the same order.
    public var recipients: [Recipient]
    /// Content size in octets as sent (CRLF line ends), for `SIZE=` ([RFC 1870](https://www.rfc-editor.org/rfc/rfc1870)).
    public var size: Int?
    /// The content has octets above 127 (needs `BODY=8BITMIME`, [RFC 6152](https://www.rfc-editor.org/rfc/rfc6152)).
    public var isEightBit: Bool
    /// An address or header needs UTF-8 ([RFC 6531](https://www.rfc-editor.org/rfc/rfc6531)): `SMTPUTF8` is required.
    public var requiresSMTPUTF8: Bool
    /// `RET=` ([RFC 3461 §4.3](https://www.rfc-editor.org/rfc/rfc3461#section-4.3)).
    public var dsnReturn: MailParameters.DSNReturn?
    /// `ENVID=` ([RFC 3461 §4.4](https://www.rfc-editor.org/rfc/rfc3461#section-4.4)).
    public var envelopeID: String?

    public init(
        from reversePath: MailAddress?, to recipients: [Recipient], size: Int? = nil, isEightBit: Bool = false,
        requiresSMTPUTF8: Bool = false, dsnReturn: MailParameters.DSNReturn? = nil, envelopeID: String? = nil
    ) {
        self.reversePath = reversePath
        self.recipients = recipients
        self.size = size
        self.isEightBit = isEightBit
        self.requiresSMTPUTF8 = requiresSMTPUTF8
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
    }
}
