// SASLServerExchange: the server side of one SASL exchange, sans-I/O. Raw response lines (base64 text or `*`)
// go in; a challenge to send, the credentials to verify, or a failure comes out. Framing the lines and
// wording the replies (`334 ...`, `+ ...`) stay with the protocol engine that drives it.

/// One server-side SASL exchange for PLAIN or LOGIN
/// ([RFC 4422 §3](https://www.rfc-editor.org/rfc/rfc4422#section-3),
/// [RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
///
/// The driver calls ``start(initialResponse:)`` with the initial response from the AUTH command line (if
/// any), then ``receive(_:)`` with each response line, until a step other than ``Step/challenge(_:)``.
///
/// ```swift
/// var exchange = SASLServerExchange(mechanism: .plain)
/// switch exchange.start(initialResponse: nil) {
/// case .challenge(let text): send("334 \(text)")      // then feed the next line to receive(_:)
/// case .credentials(let credentials): verify(credentials)
/// case .failure(let failure): refuse(failure)
/// }
/// ```
public struct SASLServerExchange: Sendable {
    /// What the exchange needs next.
    public enum Step: Hashable, Sendable {
        /// Send this challenge (base64 text, possibly empty) and feed the client's answer to ``receive(_:)``.
        case challenge(String)
        /// The exchange is over: verify these credentials.
        case credentials(PlainCredentials)
        /// The exchange is over without credentials.
        case failure(SASLFailure)
    }

    private enum State: Sendable {
        case notStarted
        case awaitingMessage
        case awaitingUsername
        case awaitingPassword(username: String)
        case finished
    }

    /// The mechanism this exchange runs.
    public let mechanism: SASLMechanism
    private var state = State.notStarted

    /// The LOGIN prompts, as every LOGIN client expects them.
    static let usernamePrompt = Base64.encodedString("Username:".utf8)
    static let passwordPrompt = Base64.encodedString("Password:".utf8)

    public init(mechanism: SASLMechanism) {
        self.mechanism = mechanism
    }

    /// The exchange has produced credentials or a failure.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Begins the exchange. `initialResponse` is the raw text after the mechanism name on the AUTH line, nil
    /// when there was none; `=` stands for an empty response
    /// ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public mutating func start(initialResponse: (some Collection<UInt8>)?) -> Step {
        guard case .notStarted = state else { return finish(.failure(.unexpectedStep)) }
        switch mechanism {
        case .plain:
            state = .awaitingMessage
            // RFC 4616 §2: without an initial response the server sends an empty challenge.
            guard let initialResponse else { return .challenge("") }
            return receive(Self.isEmptyMarker(initialResponse) ? [] : Array(initialResponse))
        case .login:
            state = .awaitingUsername
            // Many LOGIN clients put the user name in the AUTH line; take it as the first answer.
            guard let initialResponse else { return .challenge(Self.usernamePrompt) }
            return receive(Self.isEmptyMarker(initialResponse) ? [] : Array(initialResponse))
        }
    }

    /// Begins the exchange without an initial response.
    public mutating func start() -> Step {
        start(initialResponse: [UInt8]?.none)
    }

    /// One response line from the client, without its line terminator: base64 text, or `*` to cancel.
    public mutating func receive(_ line: some Collection<UInt8>) -> Step {
        if line.count == 1, line.first == UInt8(ascii: "*") { return finish(.failure(.cancelled)) }
        let decoded: [UInt8]
        switch state {
        case .notStarted, .finished:
            return finish(.failure(.unexpectedStep))
        case .awaitingMessage, .awaitingUsername, .awaitingPassword:
            guard let bytes = Base64.decode(line) else { return finish(.failure(.invalidBase64)) }
            decoded = bytes
        }
        switch state {
        case .awaitingMessage:
            do throws(SASLFailure) {
                return finish(.credentials(try PlainCredentials(parsing: decoded)))
            } catch {
                return finish(.failure(error))
            }
        case .awaitingUsername:
            guard let username = Self.loginField(decoded) else { return finish(.failure(.malformedMessage)) }
            state = .awaitingPassword(username: username)
            return .challenge(Self.passwordPrompt)
        case .awaitingPassword(let username):
            guard let password = Self.loginField(decoded) else { return finish(.failure(.malformedMessage)) }
            return finish(.credentials(PlainCredentials(authenticationIdentity: username, password: password)))
        case .notStarted, .finished:
            return finish(.failure(.unexpectedStep))
        }
    }

    private mutating func finish(_ step: Step) -> Step {
        state = .finished
        return step
    }

    private static func isEmptyMarker(_ text: some Collection<UInt8>) -> Bool {
        text.count == 1 && text.first == UInt8(ascii: "=")
    }

    /// A LOGIN answer: UTF-8 without NUL (a NUL would let a user name smuggle a PLAIN-style authzid).
    private static func loginField(_ bytes: [UInt8]) -> String? {
        guard !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
