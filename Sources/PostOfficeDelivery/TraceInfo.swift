// TraceInfo: what the receiving side knows about how a message arrived (peer, HELO, protocol, TLS, ids),
// from which delivery writes the Received: line. Values from the peer are sanitized when written.

/// The facts recorded in a `Received:` trace header
/// ([RFC 5321 §4.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.4)).
public struct TraceInfo: Sendable, Hashable {
    /// The session the message came in on; every log line of the delivery carries it.
    public var sessionID: String
    /// The queue id of this message (`id` clause), also logged.
    public var queueID: String
    /// The HELO/EHLO argument as the client sent it; nil for local submission.
    public var heloName: String?
    /// The client IP address in text form (`192.0.2.1`, `2001:db8::1`); nil for local submission.
    public var clientAddress: String?
    /// The client's verified reverse-DNS name, if any.
    public var clientHostname: String?
    /// The `with` protocol: `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA`, `LMTP`, or `local`
    /// ([RFC 3848](https://www.rfc-editor.org/rfc/rfc3848)).
    public var protocolName: String
    /// The TLS session, such as `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384`, written as a comment.
    public var tlsDescription: String?
    /// Our host name (`by` clause).
    public var hostname: String
    /// Minutes east of UTC for the date in the header (0 writes `+0000`).
    public var timeZoneOffsetMinutes: Int

    public init(
        sessionID: String,
        queueID: String,
        heloName: String? = nil,
        clientAddress: String? = nil,
        clientHostname: String? = nil,
        protocolName: String,
        tlsDescription: String? = nil,
        hostname: String,
        timeZoneOffsetMinutes: Int = 0
    ) {
        self.sessionID = sessionID
        self.queueID = queueID
        self.heloName = heloName
        self.clientAddress = clientAddress
        self.clientHostname = clientHostname
        self.protocolName = protocolName
        self.tlsDescription = tlsDescription
        self.hostname = hostname
        self.timeZoneOffsetMinutes = timeZoneOffsetMinutes
    }
}
