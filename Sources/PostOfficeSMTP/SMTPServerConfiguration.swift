// SMTPServerConfiguration: what one SMTP listener offers (extensions, limits, names).
// Plain data: the engine reads it, SMTPCapabilities turns it into the EHLO keyword list.

import PostOfficeCore
import PostOfficeSASL

/// The settings of an SMTP server engine.
public struct SMTPServerConfiguration: Sendable, Hashable {
    /// The name the server gives itself in the greeting and the EHLO reply.
    public var hostname: String
    /// Line lengths, message size, recipient and error limits.
    public var limits: Limits
    /// SMTP, or LMTP ([RFC 2033](https://www.rfc-editor.org/rfc/rfc2033)) for a local delivery service.
    public var flavor = SMTPFlavor.smtp
    /// Text of the 220 greeting after the code; nil for `"<hostname> ESMTP PostOffice"` (`LMTP` for LMTP)
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
    /// The SASL mechanisms offered with SMTP AUTH ([RFC 4954](https://www.rfc-editor.org/rfc/rfc4954)), in
    /// the order advertised. Empty (the default): AUTH is off, not advertised, and answered 502 5.5.1. The
    /// driver must then handle ``SMTPAction/authenticate(_:)`` and call
    /// ``SMTPServerStateMachine/resolveAuthentication(_:)``.
    public var authenticationMechanisms: [SASLMechanism] = []
    /// Offer AUTH before TLS is active. PLAIN and LOGIN send the password in the clear, so by default AUTH
    /// is only advertised and accepted under TLS (538 5.7.11 before it); the runtime sets this for loopback
    /// and trusted networks.
    public var allowsAuthenticationWithoutTLS = false
    /// MAIL needs a successful AUTH first (a submission service,
    /// [RFC 6409 §4.3](https://www.rfc-editor.org/rfc/rfc6409#section-4.3)): 530 5.7.0 otherwise.
    public var requiresAuthentication = false
    /// Let a client name an authorization identity other than the one it authenticates as (PLAIN's
    /// `authzid`, a proxy login); the driver then decides on it. Off by default: such logins get 535 5.7.8
    /// without reaching the driver.
    public var allowsAuthorizationIdentity = false
    /// Longest SASL response line during an AUTH exchange, CRLF included. RFC 4954 §4 leaves the AUTH
    /// command line itself under the command limit and considers 12288 octets enough for responses;
    /// a longer one fails the exchange with 500 5.5.6.
    public var maximumAuthenticationResponseLength = 12288
    /// Domains a client may start a queue run for with ETRN ([RFC 1985](https://www.rfc-editor.org/rfc/rfc1985)),
    /// lower case. Empty (the default): ETRN is off, not advertised, and answered 502 5.5.1.
    public var queueRunDomains: [String] = []
    /// ETRN needs no AUTH from this client (a trusted network); otherwise only after a successful AUTH.
    public var allowsQueueRunWithoutAuthentication = false
    /// Most input bytes buffered while a decision is pending. Drivers should stop reading while
    /// ``SMTPServerStateMachine/isAwaitingDecision`` is true; past this bound the session ends with 421 4.7.0
    /// once the decision's reply is sent.
    public var maximumPendingInput = 1 << 20

    /// AUTH is advertised and accepted now: mechanisms are configured, and TLS is active or not needed.
    public func offersAuthentication(isTLSActive: Bool) -> Bool {
        !authenticationMechanisms.isEmpty && (isTLSActive || allowsAuthenticationWithoutTLS)
    }

    /// ETRN is advertised now: domains are configured, and this client is trusted or may still log in.
    public func offersQueueRun(isTLSActive: Bool) -> Bool {
        !queueRunDomains.isEmpty && (allowsQueueRunWithoutAuthentication || offersAuthentication(isTLSActive: isTLSActive))
    }

    public init(hostname: String, limits: Limits = Limits()) {
        self.hostname = hostname
        self.limits = limits
    }
}
