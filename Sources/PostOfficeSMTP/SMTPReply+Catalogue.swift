// The catalogue of SMTP replies: every reply the engine sends, and those drivers return as decisions.
// Codes follow RFC 5321 §4.2.2/§4.2.3, enhanced codes RFC 3463; texts are close to Postfix's.

import PostOfficeCore

extension SMTPReply {
    private static func e(_ c: Int, _ s: Int, _ d: Int) -> EnhancedStatusCode { EnhancedStatusCode(c, s, d) }

    // MARK: Success

    /// 250 2.0.0: generic success (NOOP, RSET, accepted message).
    public static let ok = SMTPReply(250, e(2, 0, 0), "Ok")
    /// 250 2.1.0: MAIL accepted ([RFC 3463 §3.2](https://www.rfc-editor.org/rfc/rfc3463#section-3.2) X.1.0).
    public static let senderOk = SMTPReply(250, e(2, 1, 0), "Ok")
    /// 250 2.1.5: RCPT accepted (X.1.5 destination address valid).
    public static let recipientOk = SMTPReply(250, e(2, 1, 5), "Ok")
    /// 250 2.0.0 for a stored message, naming the id the driver gave it.
    public static func messageAccepted(id: String) -> SMTPReply { SMTPReply(250, e(2, 0, 0), "Ok: queued as \(id)") }
    /// 250 2.0.0 for a BDAT chunk that is not the last ([RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2)).
    public static func chunkReceived(octets: Int) -> SMTPReply { SMTPReply(250, e(2, 0, 0), "Ok: \(octets) octets") }
    /// 221 2.0.0: answer to QUIT ([RFC 5321 §4.1.1.10](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.10)).
    public static let closing = SMTPReply(221, e(2, 0, 0), "Bye")
    /// 214 2.0.0: HELP ([RFC 5321 §4.1.1.8](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.8)).
    public static let help = SMTPReply(
        214, e(2, 0, 0), "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP",
        "See https://www.rfc-editor.org/rfc/rfc5321")
    /// 252 2.5.0: VRFY is answered without disclosing anything
    /// ([RFC 5321 §3.5.3](https://www.rfc-editor.org/rfc/rfc5321#section-3.5.3)).
    public static let cannotVerify = SMTPReply(
        252, e(2, 5, 0), "Cannot VRFY user, but will accept message and attempt delivery")
    /// 354: go ahead with DATA (no enhanced code: RFC 2034 covers 2xx/4xx/5xx only).
    public static let startMailInput = SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")
    /// 220 2.0.0: go ahead with the TLS handshake ([RFC 3207 §4](https://www.rfc-editor.org/rfc/rfc3207#section-4)).
    public static let readyToStartTLS = SMTPReply(220, e(2, 0, 0), "Ready to start TLS")
    /// 235 2.7.0: AUTH succeeded ([RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)).
    public static let authenticationSucceeded = SMTPReply(235, e(2, 7, 0), "Authentication successful")
    /// 334: a SASL challenge, base64 text (possibly empty); no enhanced code, as for 354
    /// ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public static func authenticationChallenge(_ base64: String) -> SMTPReply {
        SMTPReply(code: 334, enhancedCode: nil, lines: [base64])
    }

    // MARK: Transient failures (4xx)

    /// 421 4.3.2: the server is shutting down ([RFC 3463](https://www.rfc-editor.org/rfc/rfc3463) X.3.2 system not accepting messages).
    public static let shuttingDown = SMTPReply(421, e(4, 3, 2), "Service shutting down, closing transmission channel")
    /// 421 4.4.2: the client was idle too long (X.4.2 bad connection;
    /// [RFC 5321 §4.5.3.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.2)).
    public static let timeout = SMTPReply(421, e(4, 4, 2), "Error: timeout exceeded")
    /// 421 4.7.0: the client made too many errors (Postfix `smtpd_hard_error_limit`).
    public static let tooManyErrors = SMTPReply(421, e(4, 7, 0), "Error: too many errors")
    /// 421 4.7.0: the client sent far more pipelined input than it could have needed while a reply was pending.
    public static let tooMuchPipelinedInput = SMTPReply(421, e(4, 7, 0), "Error: too much pipelined input")
    /// 451 4.3.0: a local problem; try again later (for example storage failed).
    public static let temporaryFailure = SMTPReply(451, e(4, 3, 0), "Error: temporary failure, try again later")
    /// 452 4.5.3: more recipients than the limit ([RFC 5321 §4.5.3.1.10](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.10)).
    public static let tooManyRecipients = SMTPReply(452, e(4, 5, 3), "Error: too many recipients")
    /// 454 4.7.0: the credentials could not be checked now (the driver's verifier is unavailable)
    /// ([RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)).
    public static let authenticationTemporaryFailure = SMTPReply(454, e(4, 7, 0), "Temporary authentication failure")

    // MARK: Permanent failures (5xx)

    /// 500 5.5.2: the verb is not one we know.
    public static let unknownCommand = SMTPReply(500, e(5, 5, 2), "Error: command not recognized")
    /// 500 5.5.2: the command line holds control characters, NUL, a bare CR or invalid UTF-8.
    public static let invalidCharacters = SMTPReply(500, e(5, 5, 2), "Error: invalid characters in command")
    /// 500 5.5.6: a command line or (with `rejectLongTextLines`) a text line is too long
    /// ([RFC 5321 §4.5.3.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.4)).
    public static let lineTooLong = SMTPReply(500, e(5, 5, 6), "Error: line too long")
    /// 500 5.5.6: a SASL response longer than the authentication buffer ends the AUTH exchange
    /// ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public static let authenticationLineTooLong = SMTPReply(500, e(5, 5, 6), "Error: authentication response too long")
    /// 501 5.5.4: bad arguments.
    public static let syntaxError = SMTPReply(501, e(5, 5, 4), "Error: syntax error in parameters or arguments")
    /// 501 5.1.7: the reverse-path does not parse (X.1.7 bad sender's mailbox address syntax).
    public static let badSenderSyntax = SMTPReply(501, e(5, 1, 7), "Bad sender address syntax")
    /// 501 5.1.3: the forward-path does not parse (X.1.3 bad destination mailbox address syntax).
    public static let badRecipientSyntax = SMTPReply(501, e(5, 1, 3), "Bad recipient address syntax")
    /// 501 5.7.0: the client cancelled the AUTH exchange with `*`
    /// ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public static let authenticationCancelled = SMTPReply(501, e(5, 7, 0), "Authentication cancelled")
    /// 501 5.5.2: a SASL response that is not base64 ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public static let authenticationBadBase64 = SMTPReply(501, e(5, 5, 2), "Error: cannot decode response")
    /// 502 5.5.1: VRFY is switched off.
    public static let verifyDisabled = SMTPReply(502, e(5, 5, 1), "Error: VRFY command is disabled")
    /// 502 5.5.1: EXPN is never answered (it would disclose list members).
    public static let expandDisabled = SMTPReply(502, e(5, 5, 1), "Error: EXPN command is disabled")
    /// 502 5.5.1: a known command that this server does not offer (STARTTLS without TLS, AUTH without
    /// mechanisms).
    public static let commandNotImplemented = SMTPReply(502, e(5, 5, 1), "Error: command not implemented")
    /// 503 5.5.1: bad sequence of commands ([RFC 5321 §4.3.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.3.2)).
    public static let badSequence = SMTPReply(503, e(5, 5, 1), "Error: bad sequence of commands")
    /// 503 5.5.1: MAIL before HELO/EHLO.
    public static let needHello = SMTPReply(503, e(5, 5, 1), "Error: send HELO/EHLO first")
    /// 503 5.5.1: MAIL before LHLO in LMTP.
    public static let needLHLO = SMTPReply(503, e(5, 5, 1), "Error: send LHLO first")
    /// 500 5.5.1: EHLO or HELO to an LMTP server
    /// ([RFC 2033 §4.1](https://www.rfc-editor.org/rfc/rfc2033#section-4.1)).
    public static let helloInLMTP = SMTPReply(
        500, e(5, 5, 1), "Error: this is an LMTP server (RFC 2033): use LHLO, not EHLO or HELO")

    // ETRN (RFC 1985 §5: 250 queuing started, 458 cannot queue, 459 node not allowed, 501 bad parameters)

    /// 250 2.0.0: the queue run for `node` has started.
    public static func queueRunStarted(_ node: String) -> SMTPReply {
        SMTPReply(250, e(2, 0, 0), "Queuing started for node \(node)")
    }

    /// 458 4.0.0: the queue cannot be run for `node` now (`reason` says why).
    public static func queueRunUnavailable(_ node: String, reason: String) -> SMTPReply {
        SMTPReply(458, e(4, 0, 0), "Unable to queue messages for node \(node): \(reason)")
    }

    /// 459: `node` is not one this client may start (`reason` says why and what to do).
    public static func queueRunNotAllowed(_ node: String, reason: String, code: EnhancedStatusCode = EnhancedStatusCode(4, 0, 0)) -> SMTPReply {
        SMTPReply(459, code, "Node \(node) not allowed: \(reason)")
    }
    /// 503 5.5.1: RCPT, DATA or BDAT without MAIL.
    public static let needMail = SMTPReply(503, e(5, 5, 1), "Error: need MAIL command")
    /// 503 5.5.1: MAIL inside a transaction.
    public static let nestedMail = SMTPReply(503, e(5, 5, 1), "Error: nested MAIL command")
    /// 503 5.5.1: DATA or BDAT before any RCPT.
    public static let needRecipient = SMTPReply(503, e(5, 5, 1), "Error: need RCPT command")
    /// 503 5.5.1: DATA after BDAT, or DATA with BODY=BINARYMIME
    /// ([RFC 3030 §3](https://www.rfc-editor.org/rfc/rfc3030#section-3)).
    public static let dataNotAllowed = SMTPReply(
        503, e(5, 5, 1), "Error: DATA not allowed in this transaction, use BDAT")
    /// 503 5.5.1: AUTH after a successful AUTH ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public static let alreadyAuthenticated = SMTPReply(503, e(5, 5, 1), "Error: already authenticated")
    /// 503 5.5.1: AUTH inside a mail transaction ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public static let authenticationInTransaction = SMTPReply(
        503, e(5, 5, 1), "Error: AUTH not allowed during a mail transaction")
    /// 504 5.5.4: a SASL mechanism that is not offered ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    public static let unknownAuthenticationMechanism = SMTPReply(
        504, e(5, 5, 4), "Error: unrecognized authentication type")
    /// 530 5.7.0: MAIL without AUTH where AUTH is required (submission;
    /// [RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)).
    public static let authenticationRequired = SMTPReply(530, e(5, 7, 0), "Authentication required")
    /// 535 5.7.8: the credentials were refused, or the message did not fit the mechanism
    /// ([RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)).
    public static let authenticationInvalid = SMTPReply(535, e(5, 7, 8), "Authentication credentials invalid")
    /// 538 5.7.11: AUTH with a plaintext mechanism before TLS where that is not allowed
    /// ([RFC 4954 §6](https://www.rfc-editor.org/rfc/rfc4954#section-6)).
    public static let encryptionRequiredForAuthentication = SMTPReply(
        538, e(5, 7, 11), "Encryption required for requested authentication mechanism")
    /// 550 5.1.1: the local mailbox does not exist (driver decision).
    public static let unknownUser = SMTPReply(
        550, e(5, 1, 1), "Recipient address rejected: User unknown in local recipient table")
    /// 550 5.7.1: the domain is not ours and we do not relay (driver decision).
    public static let relayDenied = SMTPReply(550, e(5, 7, 1), "Relay access denied")
    /// 550 5.7.1: the sender is refused by policy (driver decision).
    public static let senderRejected = SMTPReply(550, e(5, 7, 1), "Sender address rejected: Access denied")
    /// 552 5.3.4: the message is larger than the limit ([RFC 1870 §6](https://www.rfc-editor.org/rfc/rfc1870#section-6)).
    public static let messageTooBig = SMTPReply(552, e(5, 3, 4), "Error: message file too big")
    /// 553 5.6.7: a UTF-8 address without SMTPUTF8 ([RFC 6531 §3.5](https://www.rfc-editor.org/rfc/rfc6531#section-3.5)).
    public static let utf8AddressNotPermitted = SMTPReply(553, e(5, 6, 7), "Error: non-ASCII address requires SMTPUTF8")
    /// 554 5.5.0: DATA or BDAT after every RCPT was refused.
    public static let noValidRecipients = SMTPReply(554, e(5, 5, 0), "Error: no valid recipients")
    /// 554 5.5.1: the client talked before the greeting
    /// ([RFC 5321 §4.3.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.3.1)).
    public static let talkedBeforeGreeting = SMTPReply(554, e(5, 5, 1), "Error: talking before the greeting")
    /// 555 5.5.4: an unknown or unoffered MAIL/RCPT parameter
    /// ([RFC 5321 §4.1.1.11](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.11)).
    public static let unknownParameter = SMTPReply(555, e(5, 5, 4), "Error: unsupported parameter")
}
