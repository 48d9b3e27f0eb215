// POP3AuthenticationResult: the runtime's answer to an authenticate action, after it has checked the
// credentials and (on success) locked the maildrop and taken its snapshot.

/// The outcome of ``POP3Action/authenticate(user:password:)`` or
/// ``POP3Action/authenticateAPOP(user:timestamp:digest:)``, passed to
/// ``POP3ServerStateMachine/authenticationFinished(_:)``.
public enum POP3AuthenticationResult: Hashable, Sendable {
    /// Credentials valid, maildrop locked; the snapshot is numbered 1...n in this order
    /// ([RFC 1939 §4](https://www.rfc-editor.org/rfc/rfc1939#section-4)).
    case success([POP3MessageInfo])
    /// Unknown user or wrong password: both answer `-ERR [AUTH] Authentication failed`. The runtime applies
    /// its failed-login delay before calling back.
    case failure
    /// The maildrop is locked by another session: `-ERR [IN-USE]`
    /// ([RFC 2449 §8.1.2](https://www.rfc-editor.org/rfc/rfc2449#section-8.1.2)).
    case inUse
    /// Storage or account lookup failed transiently: `-ERR [SYS/TEMP]`
    /// ([RFC 3206 §4](https://www.rfc-editor.org/rfc/rfc3206#section-4)).
    case temporaryFailure
}
