// Limits: every protocol limit and timeout in one place, each with its default and the reason for it.
// Engines read these; the server runtime enforces the timeouts and connection caps.

/// The limits and timeouts of a PostOffice server. Defaults follow the RFCs' minimums and Postfix's choices.
public struct Limits: Sendable, Hashable {
    /// Longest SMTP command line, CRLF included. RFC 5321 §4.5.3.1.4 sets 512 octets as the minimum a
    /// server must accept; we accept exactly that by default. ESMTP parameters may need more (RFC 1869 allows
    /// servers to extend it), so it is configurable.
    public var smtpCommandLineLength = 512
    /// Longest line of message text, CRLF included. RFC 5321 §4.5.3.1.6: 1000 octets.
    /// Longer lines are kept as sent unless ``rejectLongTextLines`` is set (the RFC lets servers accept
    /// more, and refusing real mail over a line length is worse than storing it).
    public var smtpTextLineLength = 1000
    /// Refuse messages with text lines longer than ``smtpTextLineLength`` with 500 5.5.6 (default false;
    /// Postfix also accepts them).
    public var rejectLongTextLines = false
    /// Largest message accepted, in octets, counted as received (after dot-unstuffing). Advertised in
    /// EHLO as `SIZE` (RFC 1870). Default 25 MiB; Postfix uses 10,240,000.
    public var maximumMessageSize = 25 * 1024 * 1024
    /// Most recipients per transaction. RFC 5321 §4.5.3.1.8 requires at least 100; Postfix's
    /// `smtpd_recipient_limit` is 1000. Past it: 452 4.5.3.
    public var maximumRecipients = 1000
    /// Errors (4xx/5xx replies) after which each further reply is delayed (Postfix `smtpd_soft_error_limit`).
    public var softErrorLimit = 10
    /// Errors after which the session is closed with 421 (Postfix `smtpd_hard_error_limit`).
    public var hardErrorLimit = 20
    /// Delay added to replies once the soft error limit is passed, in milliseconds (Postfix `smtpd_error_sleep_time` 1s).
    public var errorDelayMilliseconds = 1000
    /// Idle time allowed while waiting for an SMTP command. RFC 5321 §4.5.3.2.7: at least 5 minutes.
    public var smtpCommandTimeoutSeconds = 300
    /// Idle time allowed between chunks of DATA. RFC 5321 §4.5.3.2.6: 3 minutes per data block.
    public var smtpDataTimeoutSeconds = 180
    /// Wait this long before sending the SMTP greeting, and answer a client that talks first with
    /// 554 5.5.1 (RFC 5321 §4.3.1: the client must wait for the greeting; spambots often do not).
    /// Default 0 (off), since every message of a one-message-per-connection client pays the delay.
    public var smtpGreetingDelayMilliseconds = 0
    /// Longest POP3 command line, CRLF included. RFC 2449 §4: 255 octets.
    public var pop3CommandLineLength = 255
    /// POP3 inactivity autologout timer. RFC 1939 §3: at least 10 minutes.
    public var pop3IdleTimeoutSeconds = 600
    /// Delay before answering a failed POP3 login, in milliseconds (slows password guessing; Dovecot
    /// uses up to 15 s, we default to 2 s).
    public var failedLoginDelayMilliseconds = 2000
    /// Failed POP3 logins allowed per client IP per minute before further attempts are refused.
    public var failedLoginsPerMinutePerAddress = 10
    /// Simultaneous connections allowed from one client IP (Postfix `smtpd_client_connection_count_limit` 50).
    public var connectionsPerAddress = 50
    /// Apply ``connectionsPerAddress`` to loopback clients too. Off by default, as Postfix exempts
    /// `$mynetworks` (`smtpd_client_event_limit_exceptions`): local tools such as load generators and
    /// fetchmail open many sessions from 127.0.0.1.
    public var limitsLoopbackConnections = false
    /// Simultaneous connections in all (each costs a file descriptor).
    public var maximumConnections = 20_000
    /// Seconds a graceful shutdown waits for messages already in DATA before closing anyway.
    public var shutdownGraceSeconds = 30

    public init() {}
}
