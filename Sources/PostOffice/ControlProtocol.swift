// ControlProtocol: the line protocol of the control socket (DATA/control.sock) between the CLI and a running
// server. Sans-I/O: it turns a request line into a ControlRequest and a reply line into a ControlReply, and
// back; ControlSocket and the CLI move the bytes. One request line, one reply line, then the server closes.

import PostOfficeCore

/// A request on the control socket: `flush [DOMAIN]`, `pickup` or `status`, one line ending in LF (CRLF accepted),
/// at most ``ControlRequest/maximumLineLength`` bytes.
public enum ControlRequest: Hashable, Sendable {
    /// Make the waiting mail (of `domain`, or all) due now and try it at once.
    case flush(domain: String?)
    /// Report that the server runs, its pid and whether it delivers outbound.
    case status
    /// Look for mail another process put in the queue directory (`postoffice sendmail`), now rather than at
    /// the next queue run. Carries no data; repeated requests are coalesced (at most one pending, one a second).
    case pickup

    /// Longest request line accepted, line end included.
    public static let maximumLineLength = 512

    /// Why a request line was refused (sent back as `error TEXT`).
    public struct Invalid: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses one request line (without or with its line end).
    public init(parsing line: String) throws(Invalid) {
        var text = Substring(line)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
        guard text.utf8.count < Self.maximumLineLength else { throw Invalid(description: "request line too long") }
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let verb = words.first?.lowercased() else { throw Invalid(description: "empty request: use flush [DOMAIN], pickup or status") }
        switch verb {
        case "flush":
            guard words.count <= 2 else { throw Invalid(description: "flush takes at most one DOMAIN") }
            if words.count == 2 {
                let domain = words[1]
                guard Self.isDomain(domain) else { throw Invalid(description: "'\(domain)' is not a domain") }
                self = .flush(domain: MailAddress.canonicalDomain(domain))
            } else {
                self = .flush(domain: nil)
            }
        case "status":
            guard words.count == 1 else { throw Invalid(description: "status takes no arguments") }
            self = .status
        case "pickup":
            guard words.count == 1 else { throw Invalid(description: "pickup takes no arguments") }
            self = .pickup
        default:
            throw Invalid(description: "unknown request '\(verb)': use flush [DOMAIN], pickup or status")
        }
    }

    /// The request as sent on the wire, LF included.
    public var line: String {
        switch self {
        case .flush(let domain): return domain.map { "flush \($0)\n" } ?? "flush\n"
        case .status: return "status\n"
        case .pickup: return "pickup\n"
        }
    }

    /// Letters, digits, hyphens and dots, not starting with a hyphen or dot (a bare domain, no `@`).
    static func isDomain(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 255, let first = text.utf8.first,
            first != UInt8(ascii: "-"), first != UInt8(ascii: ".")
        else { return false }
        return text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".") || byte >= 0x80
        }
    }
}

/// The server's one-line answer: `ok TEXT` or `error TEXT`.
public struct ControlReply: Hashable, Sendable {
    /// True for `ok`.
    public var isSuccess: Bool
    /// What was done, or why not.
    public var text: String

    public init(isSuccess: Bool, text: String) {
        self.isSuccess = isSuccess
        // One line: a line break in the text would end the reply early.
        self.text = String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }

    /// The reply as sent, LF included.
    public var line: String { (isSuccess ? "ok " : "error ") + text + "\n" }

    /// Parses a reply line; nil when it is neither `ok ...` nor `error ...`.
    public init?(parsing line: String) {
        var text = Substring(line)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
        if text == "ok" || text.hasPrefix("ok ") {
            self.init(isSuccess: true, text: String(text.dropFirst(3)))
        } else if text == "error" || text.hasPrefix("error ") {
            self.init(isSuccess: false, text: String(text.dropFirst(6)))
        } else {
            return nil
        }
    }
}
