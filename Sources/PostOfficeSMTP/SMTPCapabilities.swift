// SMTPCapabilities: the EHLO keyword list, built in one place from configuration and session state.
// Whatever is advertised here is what the command parser accepts.

/// The service extensions a session offers in its EHLO reply
/// ([RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1)).
public struct SMTPCapabilities: Hashable, Sendable {
    /// The keyword lines after the hostname, such as `SIZE 26214400` or `PIPELINING`.
    public var keywords: [String]

    /// The keywords for `configuration`; STARTTLS only while TLS is not active yet, AUTH only when
    /// ``SMTPServerConfiguration/offersAuthentication(isTLSActive:)``.
    public init(configuration: SMTPServerConfiguration, isTLSActive: Bool = false) {
        var keywords: [String] = []
        // RFC 2033 §5: an LMTP server must offer PIPELINING.
        if configuration.isPipeliningEnabled || configuration.flavor == .lmtp { keywords.append("PIPELINING") }
        // RFC 1870: SIZE with the fixed limit, checked at MAIL and while the data streams.
        keywords.append("SIZE \(configuration.limits.maximumMessageSize)")
        if configuration.isSTARTTLSAvailable && !isTLSActive { keywords.append("STARTTLS") }
        // RFC 4954 §3: AUTH with the mechanisms; plaintext ones only under TLS unless allowed without.
        if configuration.offersAuthentication(isTLSActive: isTLSActive) {
            keywords.append((["AUTH"] + configuration.authenticationMechanisms.map(\.name)).joined(separator: " "))
        }
        keywords.append("ENHANCEDSTATUSCODES")
        if configuration.is8BitMIMEEnabled { keywords.append("8BITMIME") }
        if configuration.isDSNEnabled { keywords.append("DSN") }
        if configuration.isSMTPUTF8Enabled { keywords.append("SMTPUTF8") }
        // RFC 1985 §3: only where a client could be allowed to use it.
        if configuration.offersQueueRun(isTLSActive: isTLSActive) { keywords.append("ETRN") }
        if configuration.isChunkingEnabled {
            keywords.append("CHUNKING")
            // RFC 3030 §3: BINARYMIME needs BDAT, and is a MIME body type like 8BITMIME.
            if configuration.is8BitMIMEEnabled { keywords.append("BINARYMIME") }
        }
        self.keywords = keywords
    }

    /// The multi-line 250 reply to EHLO: hostname first, then one keyword per line. No enhanced code
    /// ([RFC 2034 §3](https://www.rfc-editor.org/rfc/rfc2034#section-3)).
    public func extendedHelloReply(hostname: String) -> SMTPReply {
        SMTPReply(code: 250, enhancedCode: nil, lines: [hostname] + keywords)
    }
}
