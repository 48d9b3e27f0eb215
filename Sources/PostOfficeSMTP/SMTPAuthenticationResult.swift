// SMTPAuthenticationResult: the driver's answer to SMTPAction.authenticate (the credentials it checked).

/// How the driver resolves ``SMTPAction/authenticate(_:)``
/// ([RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)).
public enum SMTPAuthenticationResult: Hashable, Sendable {
    /// The credentials are good: 235 2.7.0. `identity` is who the session now acts as (usually the account
    /// name); it is ``SMTPServerStateMachine/authenticatedIdentity`` and in every later envelope.
    case success(identity: String)
    /// Wrong user name or password, or a login the policy refuses: 535 5.7.8.
    case failure
    /// The verifier could not decide now (database unavailable, throttled): 454 4.7.0.
    case temporaryFailure
}
