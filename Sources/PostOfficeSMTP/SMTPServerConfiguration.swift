// SMTPServerConfiguration: what one SMTP listener offers (extensions, limits, names).
// Plain data: the engine reads it, SMTPCapabilities turns it into the EHLO keyword list.

import PostOfficeCore

/// The settings of an SMTP server engine.
public struct SMTPServerConfiguration: Sendable, Hashable {
    /// The name the server gives itself in the greeting and the EHLO reply.
    public var hostname: String
    /// Line lengths, message size, recipient and error limits.
    public var limits: Limits
    /// Text of the 220 greeting after the code; nil for `"<hostname> ESMTP PostOffice"`
    /// ([RFC 5321 §4.3.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.3.1): it should start with the hostname).
    public var greeting: String?
    /// Offer PIPELINING ([RFC 2920](https://www.rfc-editor.org/rfc/rfc2920)). The engine always answers
    /// pipelined commands in order; this only controls the advertisement.
    public var isPipeliningEnabled = true
    /// Offer 8BITMIME and accept `BODY=8BITMIME` ([RFC 6152](https://www.rfc-editor.org/rfc/rfc6152)).
    public var is8BitMIMEEnabled = true
    /// Offer SMTPUTF8 ([RFC 6531](https://www.rfc-editor.org/rfc/rfc6531)); UTF-8 addresses need it.
    public var isSMTPUTF8Enabled = true
    /// Offer CHUNKING and BINARYMIME, accept BDAT ([RFC 3030](https://www.rfc-editor.org/rfc/rfc3030)).
    public var isChunkingEnabled = true
    /// Offer DSN and accept its parameters ([RFC 3461](https://www.rfc-editor.org/rfc/rfc3461)).
    public var isDSNEnabled = true
    /// Answer VRFY with 252 (true, default) or 502 (false).
    public var isVRFYEnabled = true
    /// Offer STARTTLS while TLS is not active ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)).
    /// The driver must then handle ``SMTPAction/startTLS`` and call
    /// ``SMTPServerStateMachine/tlsEstablished()``.
    public var isSTARTTLSAvailable = false
    // SMTP AUTH (RFC 4954) has no setting yet: the engine runs no SASL exchange, so it neither advertises
    // AUTH nor accepts it (502 5.5.1). Issue 13 adds the setting here, together with the exchange.
    /// Most input bytes buffered while a decision is pending. Drivers should stop reading while
    /// ``SMTPServerStateMachine/isAwaitingDecision`` is true; past this bound the session ends with 421 4.7.0
    /// once the decision's reply is sent.
    public var maximumPendingInput = 1 << 20

    public init(hostname: String, limits: Limits = Limits()) {
        self.hostname = hostname
        self.limits = limits
    }
}
