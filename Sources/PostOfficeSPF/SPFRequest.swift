// SPFRequest: the inputs of check_host() (RFC 7208 §4.1) plus what the macro language needs from outside
// the engine: the receiver's name (%{r}) and the time (%{t}), given rather than read, so engines stay clock-free.

/// The arguments of one check_host() evaluation
/// ([RFC 7208 §4.1](https://www.rfc-editor.org/rfc/rfc7208#section-4.1)).
public struct SPFRequest: Hashable, Sendable {
    /// Which identity is checked ([RFC 7208 §2.3, §2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.3)).
    public enum Identity: String, Hashable, Sendable {
        case mailFrom = "mailfrom"
        case helo = "helo"
    }

    public var identity: Identity
    /// The SMTP client's address (`<ip>`).
    public var clientAddress: SPFIPAddress
    /// The domain whose SPF record is evaluated (`<domain>`).
    public var domain: String
    /// `<sender>`: local-part "@" domain, with "postmaster" substituted for a missing local-part (§4.3).
    public var sender: String
    /// The HELO/EHLO argument (`%{h}`).
    public var helo: String
    /// The checking host's name (`%{r}` and Received-SPF `receiver=`); "unknown" when nil.
    public var receiver: String?
    /// Seconds since the Unix epoch for `%{t}`; the caller supplies it because the engine reads no clock.
    public var timestamp: Int
    /// The explanation for `fail` when the record has no usable `exp=` (§6.2).
    public var defaultExplanation: String?
    /// The limit on DNS-querying terms, 10 by RFC 7208 §4.6.4.
    public var lookupLimit = 10
    /// The limit on void lookups, 2 by RFC 7208 §4.6.4.
    public var voidLookupLimit = 2

    /// The MAIL FROM identity ([RFC 7208 §2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.4)).
    ///
    /// `mailFrom` is the reverse-path without angle brackets. An empty reverse-path (`<>`) checks
    /// `postmaster@<helo>`, as §2.4 defines; the identity is then reported as `helo`.
    public init(
        mailFrom: String, helo: String, clientAddress: SPFIPAddress, receiver: String? = nil, timestamp: Int = 0,
        defaultExplanation: String? = nil
    ) {
        self.clientAddress = clientAddress
        self.helo = helo
        self.receiver = receiver
        self.timestamp = timestamp
        self.defaultExplanation = defaultExplanation
        if mailFrom.isEmpty {
            identity = .helo
            domain = helo
            sender = "postmaster@" + helo
        } else if let at = mailFrom.lastAtSign {
            identity = .mailFrom
            domain = String(mailFrom[mailFrom.index(after: at)...])
            let local = mailFrom[..<at]
            sender = (local.isEmpty ? "postmaster" : String(local)) + "@" + domain
        } else {
            identity = .mailFrom
            domain = mailFrom
            sender = "postmaster@" + mailFrom
        }
    }

    /// The HELO identity alone ([RFC 7208 §2.3](https://www.rfc-editor.org/rfc/rfc7208#section-2.3)).
    public init(helo: String, clientAddress: SPFIPAddress, receiver: String? = nil, timestamp: Int = 0, defaultExplanation: String? = nil) {
        self.init(mailFrom: "", helo: helo, clientAddress: clientAddress, receiver: receiver, timestamp: timestamp,
                  defaultExplanation: defaultExplanation)
    }

    /// The local-part of ``sender`` (`%{l}`).
    var localPart: String {
        guard let at = sender.lastAtSign else { return "postmaster" }
        return String(sender[..<at])
    }

    /// The domain of ``sender`` (`%{o}`).
    var senderDomain: String {
        guard let at = sender.lastAtSign else { return sender }
        return String(sender[sender.index(after: at)...])
    }
}

extension String {
    /// `lastIndex(of: "@")`, found on the bytes when the text is ASCII: there every character but CR LF is one
    /// byte and `@` joins no other, so it is the same index (the character walk cost more per message).
    var lastAtSign: String.Index? {
        if utf8.allSatisfy({ $0 < 0x80 }) { return utf8.lastIndex(of: UInt8(ascii: "@")) }
        return lastIndex(of: "@")
    }
}
