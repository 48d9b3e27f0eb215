// Authenticator: one place that decides logins for every protocol — POP3 USER/PASS and AUTH today, SMTP
// AUTH on submission next. It applies the per-client throttle (reserved before the password is checked, so
// parallel guesses cannot race past it), then the embedder's hook or the users file. Blocking: call it from
// the storage pool, never from an event loop. The failure delay is the driver's to apply (a timer, not a sleep).

import PostOfficeAccounts
import PostOfficeCore

/// Checks credentials against the hook or the users file, behind the login throttle.
final class Authenticator: @unchecked Sendable {
    /// What a login attempt came to.
    enum Outcome: Sendable, Equatable {
        /// The credentials are good: the mailbox (and the SMTP AUTH identity) is this address.
        case authenticated(MailAddress)
        /// Wrong user or wrong password (the two are never told apart).
        case refused
        /// Too many recent failures from this client: refused without checking the password.
        case throttled
        /// The embedder's hook threw: it could not decide (its user database is down). A temporary failure.
        case unavailable(String)
    }

    private let hook: (@Sendable (LoginRequest) throws -> MailAddress?)?
    private let throttle: LoginThrottle
    private let lock = Lock()
    private var users: UserDatabase
    /// How long a driver waits before answering a failure (Limits.failedLoginDelayMilliseconds), so that
    /// guessing is slow and a wrong user and a wrong password take the same time.
    let failureDelayMilliseconds: Int

    init(users: UserDatabase, hook: (@Sendable (LoginRequest) throws -> MailAddress?)?, limits: Limits, clock: any MailClock) {
        self.users = users
        self.hook = hook
        throttle = LoginThrottle(limits: limits, clock: clock)
        failureDelayMilliseconds = limits.failedLoginDelayMilliseconds
    }

    /// Replaces the users file's accounts (reload); logins in progress finish with the old ones.
    func replaceUsers(_ database: UserDatabase) {
        lock.withLock { users = database }
    }

    /// Checks one login from `client`. Blocks (password hashing): run it off the event loop.
    func authenticate(login: String, password: String, client: SocketAddress) -> Outcome {
        guard let attempt = throttle.reserveAttempt(for: client.host) else { return .throttled }
        let address: MailAddress?
        if let hook {
            do {
                address = try hook(LoginRequest(login: login, password: password, client: client))
            } catch {
                // Nothing was learnt about the password: the attempt stops counting, as after a success.
                throttle.succeed(attempt)
                return .unavailable("\(error)")
            }
        } else {
            let database = lock.withLock { users }
            address = database.authenticate(login: login, password: password)?.address
        }
        guard let address else {
            throttle.fail(attempt)
            return .refused
        }
        throttle.succeed(attempt)
        return .authenticated(address)
    }
}
