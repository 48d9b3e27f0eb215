// SMTPTestClient: a minimal blocking SMTP client for tests: send commands, read (multi-line) replies,
// and send a whole message with dot-stuffing.

import PostOffice
import PostOfficeSASL

/// A reply read by ``SMTPTestClient``: the code and the text lines.
public struct SMTPTestReply: Sendable, CustomStringConvertible {
    public var code: Int
    public var lines: [String]
    public var description: String { lines.map { "\(code) \($0)" }.joined(separator: "\n") }
    /// The enhanced status code at the start of the text, if any (`2.0.0`).
    public var enhancedCode: String? {
        guard let first = lines.first?.split(separator: " ").first, first.split(separator: ".").count == 3 else { return nil }
        return String(first)
    }
}

/// A blocking SMTP client for tests.
public final class SMTPTestClient {
    public let connection: LineClient

    /// Connects and reads the greeting.
    public init(connectingTo address: SocketAddress, timeoutSeconds: Int = 10) throws {
        connection = try LineClient(connectingTo: address, timeoutSeconds: timeoutSeconds)
    }

    /// Reads one reply (all lines of a multi-line reply).
    public func readReply() throws -> SMTPTestReply {
        var lines: [String] = []
        while true {
            let line = try connection.readLine()
            guard line.count >= 3, let code = Int(line.prefix(3)) else { throw TestClientError("bad reply line: \(line)") }
            let separator = line.count > 3 ? line[line.index(line.startIndex, offsetBy: 3)] : " "
            lines.append(line.count > 4 ? String(line.dropFirst(4)) : "")
            if separator == " " { return SMTPTestReply(code: code, lines: lines) }
        }
    }

    /// Sends a command line and reads its reply.
    @discardableResult
    public func command(_ line: String) throws -> SMTPTestReply {
        try connection.sendLine(line)
        return try readReply()
    }

    /// Logs in with AUTH PLAIN ([RFC 4954](https://www.rfc-editor.org/rfc/rfc4954), RFC 4616) and returns the reply
    /// (235 on success). Send EHLO first; on a non-loopback connection, start TLS first.
    @discardableResult
    public func login(_ user: String, password: String) throws -> SMTPTestReply {
        let token = Base64.encodedString(Array(("\0" + user + "\0" + password).utf8))
        return try command("AUTH PLAIN \(token)")
    }

    /// Sends a full transaction (MAIL, RCPTs, DATA, body) and returns the reply to the final dot.
    /// `body` uses "\n" or "\r\n" line endings; lines starting with "." are dot-stuffed.
    @discardableResult
    public func sendMail(from sender: String, to recipients: [String], body: String) throws -> SMTPTestReply {
        let mail = try command("MAIL FROM:<\(sender)>")
        guard mail.code == 250 else { return mail }
        var anyAccepted = false
        for r in recipients where try command("RCPT TO:<\(r)>").code == 250 { anyAccepted = true }
        guard anyAccepted else { return try command("RSET") }
        let data = try command("DATA")
        guard data.code == 354 else { return data }
        try connection.send(Self.stuffed(body))
        return try readReply()
    }

    /// The wire form of `body`: CRLF line endings, leading dots doubled, then `.<CRLF>`.
    public static func stuffed(_ body: String) -> [UInt8] {
        var lines = body.replacingCRLF().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var out: [UInt8] = []
        for line in lines {
            if line.hasPrefix(".") { out.append(UInt8(ascii: ".")) }
            out += Array(line.utf8) + [13, 10]
        }
        return out + Array(".\r\n".utf8)
    }
}

extension String {
    func replacingCRLF() -> String {
        var out = ""
        var previousCR = false
        for c in unicodeScalars {
            if previousCR && c != "\n" { out.unicodeScalars.append("\r") }
            previousCR = c == "\r"
            if !previousCR { out.unicodeScalars.append(c) }
        }
        if previousCR { out.unicodeScalars.append("\r") }
        return out
    }
}
