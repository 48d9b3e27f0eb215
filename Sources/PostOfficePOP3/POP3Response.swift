// POP3Response: one status line of the POP3 server ("+OK ..." / "-ERR [CODE] ...") and the catalogue of
// every fixed response the engine sends, so wording lives in one place. Also the SASL "+ " continuation.

/// A POP3 status indicator line with an optional RFC 2449 response code.
///
/// Wire form: `+OK text\r\n` or `-ERR [CODE] text\r\n`
/// ([RFC 1939 §3](https://www.rfc-editor.org/rfc/rfc1939#section-3),
/// [RFC 2449 §8](https://www.rfc-editor.org/rfc/rfc2449#section-8)). A continuation request is `+ text\r\n`
/// ([RFC 5034 §4](https://www.rfc-editor.org/rfc/rfc5034#section-4)).
public struct POP3Response: Hashable, Sendable {
    /// `+OK` (true) or `-ERR` (false). Continuations count as OK.
    public var isOK: Bool
    /// An RFC 2449 extended response code without brackets, such as `IN-USE`, `AUTH`, `SYS/TEMP`,
    /// `SYS/PERM` or `LOGIN-DELAY` ([RFC 2449 §8](https://www.rfc-editor.org/rfc/rfc2449#section-8),
    /// [RFC 3206](https://www.rfc-editor.org/rfc/rfc3206)).
    public var responseCode: String?
    /// Human-readable text after the indicator (and code). CR and LF are replaced by spaces on the wire.
    public var text: String
    /// A SASL continuation request (`+ text`) rather than a status line.
    public var isContinuation: Bool

    public init(isOK: Bool, responseCode: String? = nil, text: String, isContinuation: Bool = false) {
        self.isOK = isOK
        self.responseCode = responseCode
        self.text = text
        self.isContinuation = isContinuation
    }

    /// A `+OK` response.
    public static func ok(_ text: String) -> POP3Response {
        POP3Response(isOK: true, text: text)
    }

    /// A `-ERR` response with an optional response code.
    public static func error(_ text: String, code: String? = nil) -> POP3Response {
        POP3Response(isOK: false, responseCode: code, text: text)
    }

    /// The line as sent, CRLF included.
    public var wireBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        if isContinuation {
            out.append(contentsOf: "+ ".utf8)
        } else {
            out.append(contentsOf: isOK ? "+OK".utf8 : "-ERR".utf8)
            if let responseCode {
                out.append(contentsOf: " [".utf8)
                Self.appendSanitized(responseCode, to: &out)
                out.append(UInt8(ascii: "]"))
            }
            if !text.isEmpty { out.append(UInt8(ascii: " ")) }
        }
        Self.appendSanitized(text, to: &out)
        out.append(contentsOf: [13, 10])
        return out
    }

    /// Why: a stray CR or LF in text would end the line early and desynchronise the client.
    private static func appendSanitized(_ string: String, to out: inout [UInt8]) {
        // Appended in one copy, then the rare CR or LF replaced in place (every RETR sends such a line).
        let start = out.count
        out.append(contentsOf: string.utf8)
        for index in start..<out.count where out[index] == 13 || out[index] == 10 {
            out[index] = UInt8(ascii: " ")
        }
    }
}

// MARK: - Catalogue

extension POP3Response {
    /// Bare `+OK` (NOOP, USER accepted).
    public static let okay = POP3Response.ok("")
    /// The SASL continuation with an empty challenge, as PLAIN uses (`+ `).
    public static let emptyContinuation = POP3Response(isOK: true, text: "", isContinuation: true)

    /// Wrong user or wrong password: one answer for both so names cannot be probed
    /// ([RFC 3206 §4](https://www.rfc-editor.org/rfc/rfc3206#section-4)).
    public static let authenticationFailed = POP3Response.error("Authentication failed", code: "AUTH")
    /// Plaintext credentials refused on a connection that is neither TLS nor loopback.
    public static let plaintextDisallowed = POP3Response.error(
        "Plaintext authentication disallowed on non-secure connections (use TLS)", code: "AUTH")
    /// The maildrop is locked by another session ([RFC 2449 §8.1.2](https://www.rfc-editor.org/rfc/rfc2449#section-8.1.2)).
    public static let maildropInUse = POP3Response.error("Maildrop is locked by another session", code: "IN-USE")
    /// Storage or account lookup failed for a reason that may pass ([RFC 3206 §4](https://www.rfc-editor.org/rfc/rfc3206#section-4)).
    public static let temporaryFailure = POP3Response.error("Temporary failure, try again later", code: "SYS/TEMP")
    /// A second authentication attempt came too soon ([RFC 2449 §8.1.1](https://www.rfc-editor.org/rfc/rfc2449#section-8.1.1)).
    public static let loginDelay = POP3Response.error("Too many login attempts, try again later", code: "LOGIN-DELAY")
    /// Too many simultaneous connections (for the runtime to send before closing).
    public static let tooManyConnections = POP3Response.error("Too many connections, try again later", code: "SYS/TEMP")
    /// The server is stopping; no UPDATE is performed.
    public static let shuttingDown = POP3Response.error("Server shutting down", code: "SYS/TEMP")
    /// UPDATE could not remove every deleted message ([RFC 1939 §6](https://www.rfc-editor.org/rfc/rfc1939#section-6)).
    public static let updateFailed = POP3Response.error("Some deleted messages not removed", code: "SYS/TEMP")
    /// The runtime could not open a message it was asked to send.
    public static let messageUnavailable = POP3Response.error("Message unavailable", code: "SYS/TEMP")

    /// `-ERR Line too long`.
    public static let lineTooLong = POP3Response.error("Line too long")
    /// `-ERR Too many errors, closing connection`.
    public static let tooManyErrors = POP3Response.error("Too many errors, closing connection")
    /// `-ERR [AUTH] Authentication failed, too many attempts`, sent before closing.
    public static let tooManyAuthenticationFailures = POP3Response.error(
        "Authentication failed, too many attempts", code: "AUTH")
    /// `-ERR [SYS/PERM] Too much pipelined input`.
    public static let tooMuchPipelinedInput = POP3Response.error("Too much pipelined input", code: "SYS/PERM")
    /// `-ERR Unknown command`.
    public static let unknownCommand = POP3Response.error("Unknown command")
    /// `-ERR Empty command`.
    public static let emptyCommand = POP3Response.error("Empty command")
    /// `-ERR Command not valid in AUTHORIZATION state`.
    public static let notAllowedBeforeLogin = POP3Response.error("Command not valid in AUTHORIZATION state")
    /// `-ERR Command not valid in TRANSACTION state`.
    public static let notAllowedAfterLogin = POP3Response.error("Command not valid in TRANSACTION state")
    /// `-ERR No USER given, send USER first`.
    public static let userFirst = POP3Response.error("No USER given, send USER first")
    /// `-ERR Invalid message number`.
    public static let invalidMessageNumber = POP3Response.error("Invalid message number")
    /// `-ERR Invalid line count, must be a non-negative number`.
    public static let invalidLineCount = POP3Response.error("Invalid line count, must be a non-negative number")
    /// `-ERR Missing argument`.
    public static let missingArgument = POP3Response.error("Missing argument")
    /// `-ERR Too many arguments`.
    public static let tooManyArguments = POP3Response.error("Too many arguments")
    /// `-ERR Invalid argument`.
    public static let invalidArgument = POP3Response.error("Invalid argument")
    /// `-ERR Argument is not valid UTF-8`.
    public static let invalidUTF8 = POP3Response.error("Argument is not valid UTF-8")
    /// `-ERR APOP not supported`.
    public static let apopNotSupported = POP3Response.error("APOP not supported")
    /// `-ERR STLS not available`.
    public static let stlsNotAvailable = POP3Response.error("STLS not available")
    /// `+OK Begin TLS negotiation`.
    public static let beginTLS = POP3Response.ok("Begin TLS negotiation")
    /// `-ERR Unsupported authentication mechanism`.
    public static let unsupportedMechanism = POP3Response.error("Unsupported authentication mechanism")
    /// `-ERR [AUTH] Authentication cancelled`.
    public static let authenticationCancelled = POP3Response.error("Authentication cancelled", code: "AUTH")
    /// `-ERR [AUTH] Invalid base64 data`.
    public static let invalidBase64 = POP3Response.error("Invalid base64 data", code: "AUTH")
    /// `-ERR [AUTH] Malformed PLAIN credentials`.
    public static let malformedCredentials = POP3Response.error("Malformed PLAIN credentials", code: "AUTH")
    /// `+OK Capability list follows`.
    public static let capabilityList = POP3Response.ok("Capability list follows")
    /// `+OK Supported mechanisms follow`.
    public static let mechanismList = POP3Response.ok("Supported mechanisms follow")

    /// The `+OK` line the runtime writes before streaming a message for
    /// ``POP3Action/sendMessage(storageKey:octets:bodyLineLimit:)``: `+OK 120 octets` for RETR
    /// ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#page-8)), `+OK top of message follows` for TOP
    /// (whose output is shorter than the message, so no size is claimed).
    public static func messageFollows(octets: Int, bodyLineLimit: Int?) -> POP3Response {
        bodyLineLimit == nil ? .ok("\(octets) octets") : .ok("Top of message follows")
    }

    /// `-ERR no such message, only N messages in maildrop`.
    public static func noSuchMessage(count: Int) -> POP3Response {
        .error("No such message, only \(count) messages in maildrop")
    }

    /// `-ERR message N already deleted`.
    public static func alreadyDeleted(_ number: Int) -> POP3Response {
        .error("Message \(number) already deleted")
    }
}
