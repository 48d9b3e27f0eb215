// SASLClientExchange: the client side of one SASL exchange, sans-I/O, for a future SMTP client engine.
// Challenges (base64 text) go in, response lines (base64 text) come out.

/// One client-side SASL exchange for PLAIN or LOGIN
/// ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
///
/// Send `AUTH <mechanism.name>` followed by ``initialResponse`` when it is not nil, then answer every
/// `334` challenge with ``respond(to:)``.
public struct SASLClientExchange: Sendable {
    /// The mechanism this exchange runs.
    public let mechanism: SASLMechanism
    /// The identities and password to present.
    public let credentials: PlainCredentials
    /// The response line that cancels an exchange (`*`).
    public static let cancellation = "*"

    private var responsesSent = 0
    private var initialResponseSent = false

    /// An exchange; with `usesInitialResponse` (the default) PLAIN sends its message on the AUTH line,
    /// saving a round trip ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public init(mechanism: SASLMechanism, credentials: PlainCredentials, usesInitialResponse: Bool = true) {
        self.mechanism = mechanism
        self.credentials = credentials
        self.initialResponseSent = usesInitialResponse && mechanism == .plain
    }

    /// The text to put after the mechanism name on the AUTH line, or nil for none. An empty PLAIN message
    /// would be `=`; LOGIN never has one.
    public var initialResponse: String? {
        guard initialResponseSent else { return nil }
        return Self.encode(credentials.message)
    }

    /// The response line to a server challenge (the base64 text after `334 `). Throws
    /// ``SASLFailure/invalidBase64`` for a challenge that is not base64 and ``SASLFailure/unexpectedStep``
    /// for one more challenge than the mechanism has answers for.
    public mutating func respond(to challenge: some Collection<UInt8>) throws(SASLFailure) -> String {
        // The challenge text is not interpreted (LOGIN servers word their prompts differently), but it
        // must be well-formed.
        guard Base64.decode(challenge) != nil else { throw .invalidBase64 }
        defer { responsesSent += 1 }
        switch mechanism {
        case .plain:
            guard responsesSent == 0, !initialResponseSent else { throw .unexpectedStep }
            return Self.encode(credentials.message, emptyMarker: false)
        case .login:
            switch responsesSent {
            case 0: return Self.encode(Array(credentials.authenticationIdentity.utf8), emptyMarker: false)
            case 1: return Self.encode(Array(credentials.password.utf8), emptyMarker: false)
            default: throw .unexpectedStep
            }
        }
    }

    /// Base64, with `=` for an empty initial response; continuation responses are simply empty lines.
    private static func encode(_ bytes: [UInt8], emptyMarker: Bool = true) -> String {
        bytes.isEmpty && emptyMarker ? "=" : Base64.encodedString(bytes)
    }
}
