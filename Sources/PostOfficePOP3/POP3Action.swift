// POP3Action: what the POP3 engine asks its runtime to do. Sending is plain bytes; authentication, message
// streaming and UPDATE are decisions the runtime performs and reports back, pausing the engine meanwhile.

/// An instruction from ``POP3ServerStateMachine`` to the runtime, performed in order.
public enum POP3Action: Hashable, Sendable {
    /// Write `response.wireBytes`.
    case send(POP3Response)
    /// Write a multi-line response ([RFC 1939 §3](https://www.rfc-editor.org/rfc/rfc1939#section-3)):
    /// `response.wireBytes`, then each line followed by CRLF, then `.\r\n`. The engine has already
    /// byte-stuffed the lines (a leading `.` doubled) and they contain no CR or LF. ``wireBytes`` gives the
    /// whole block ready to write.
    case sendMultiline(POP3Response, lines: [[UInt8]])
    /// Check USER/PASS or AUTH PLAIN credentials; on success lock the maildrop and snapshot it. The engine
    /// pauses until ``POP3ServerStateMachine/authenticationFinished(_:)``. The runtime delays failures.
    case authenticate(user: String, password: String)
    /// Check an APOP digest (`MD5(timestamp + secret)` in lower-case hex) for `user`; only emitted when APOP
    /// is enabled. Answered like ``authenticate(user:password:)``.
    case authenticateAPOP(user: String, timestamp: String, digest: String)
    /// RETR (`bodyLineLimit` nil) or TOP (`bodyLineLimit` n): write `+OK <octets> octets\r\n` (or the
    /// wire bytes of ``POP3Response/messageFollows(octets:bodyLineLimit:)``, which suits TOP better), stream the
    /// stored message through ``POP3ByteStuffer`` (which appends `.\r\n`), then call
    /// ``POP3ServerStateMachine/messageSent()``, or ``POP3ServerStateMachine/messageUnavailable()`` before
    /// writing anything if the message cannot be opened.
    case sendMessage(storageKey: String, octets: Int, bodyLineLimit: Int?)
    /// Enter the UPDATE state after QUIT ([RFC 1939 §6](https://www.rfc-editor.org/rfc/rfc1939#section-6)):
    /// remove `deleted`, mark `retrieved` as seen (Maildir: move to `cur/` with the `S` flag), release the
    /// lock, then call ``POP3ServerStateMachine/updateFinished(success:)``. Both lists hold storage keys in
    /// message-number order and are disjoint; they may be empty. Only RETR marks a message retrieved.
    case commit(deleted: [String], retrieved: [String])
    /// Close the connection (after writing what came before). Release the maildrop lock without UPDATE.
    case close
    /// After writing the preceding `+OK`, start the TLS handshake before reading more input
    /// ([RFC 2595 §4](https://www.rfc-editor.org/rfc/rfc2595#section-4)). Only when STLS is available.
    case startTLS

    /// The bytes to write for ``send(_:)`` and ``sendMultiline(_:lines:)``; nil for other actions.
    public var wireBytes: [UInt8]? {
        switch self {
        case .send(let response):
            return response.wireBytes
        case .sendMultiline(let response, let lines):
            var out = response.wireBytes
            out.reserveCapacity(out.count + lines.reduce(3) { $0 + $1.count + 2 })
            for line in lines {
                out.append(contentsOf: line)
                out.append(contentsOf: [13, 10])
            }
            out.append(contentsOf: [UInt8(ascii: "."), 13, 10])
            return out
        default:
            return nil
        }
    }
}
