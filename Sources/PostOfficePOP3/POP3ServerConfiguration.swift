// POP3ServerConfiguration: per-connection settings of the POP3 engine. The runtime fills the security facts
// (TLS, loopback) for each connection; limits come from PostOfficeCore's shared Limits.
import PostOfficeCore

/// Settings for one ``POP3ServerStateMachine``.
public struct POP3ServerConfiguration: Sendable {
    /// This server's name, for the runtime (logs, building ``apopTimestamp``); the engine does not show it.
    public var hostname: String
    /// Protocol limits; the engine reads ``Limits/pop3CommandLineLength``.
    public var limits: Limits
    /// The `IMPLEMENTATION` capability value and the greeting's name
    /// ([RFC 2449 §6.9](https://www.rfc-editor.org/rfc/rfc2449#section-6.9)).
    public var implementation: String = "PostOffice"
    /// Whether USER/PASS and AUTH PLAIN may be used. The runtime sets this per connection: true on TLS or
    /// loopback. After a successful STLS the engine treats it as true.
    public var allowsPlaintextAuthentication: Bool = false
    /// Whether STLS may be offered ([RFC 2595 §4](https://www.rfc-editor.org/rfc/rfc2595#section-4)).
    /// When true, STLS answers `+OK` and emits ``POP3Action/startTLS``.
    public var isSTLSAvailable: Bool = false
    /// Whether the connection is already encrypted (implicit TLS, port 995); hides STLS.
    public var isTLSActive: Bool = false
    /// Whether APOP is accepted ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#page-15)). Needs
    /// ``apopTimestamp`` too; otherwise APOP answers `-ERR`.
    public var isAPOPEnabled: Bool = false
    /// The greeting's APOP timestamp, such as `<1896.697170952@dbc.mtview.ca.us>`, unique per connection;
    /// the runtime makes it (the engine has no clock or randomness).
    public var apopTimestamp: String? = nil
    /// `-ERR` responses to the client's mistakes after which the session is closed with "too many errors".
    public var maximumErrors: Int = 20
    /// Failed logins in one session after which it is closed.
    public var maximumAuthenticationFailures: Int = 3
    /// Bytes of pipelined input buffered while the engine waits for the runtime; past it the session is
    /// closed. A runtime that stops reading while ``POP3ServerStateMachine/isAwaitingDecision`` never hits it.
    public var maximumPendingInputBytes: Int = 64 * 1024
    /// Longest base64 line accepted as an AUTH continuation response (RFC 5034 lets it exceed the
    /// 255-octet command limit).
    public var maximumAuthenticationLineLength: Int = 4096

    public init(hostname: String, limits: Limits) {
        self.hostname = hostname
        self.limits = limits
    }
}
