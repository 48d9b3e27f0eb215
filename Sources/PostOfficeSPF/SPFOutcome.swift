// SPFOutcome: a finished SPF evaluation and the two ways it is written into a message: an
// Authentication-Results entry (RFC 8601) and a Received-SPF header (RFC 7208 §9.1).

/// The result of an ``SPFEvaluation`` with what the headers need to report it.
public struct SPFOutcome: Hashable, Sendable {
    public var result: SPFResult
    /// For `fail`: the expanded `exp=` text, or the request's default explanation (RFC 7208 §6.2).
    public var explanation: String?
    /// The directive that decided the result as written (`-all`, `ip4:192.0.2.0/24`), "default" when none
    /// matched; nil for none, temperror and permerror.
    public var mechanism: String?
    /// Why the result is none, temperror or permerror, for logs and Received-SPF's `problem=`.
    public var problem: String?
    public var request: SPFRequest

    public init(result: SPFResult, explanation: String? = nil, mechanism: String? = nil, problem: String? = nil, request: SPFRequest) {
        self.result = result
        self.explanation = explanation
        self.mechanism = mechanism
        self.problem = problem
        self.request = request
    }

    /// The method-spec of an Authentication-Results header, e.g. `spf=pass smtp.mailfrom=user@example.com`
    /// ([RFC 8601 §2.7.2](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.2)); HELO checks report `smtp.helo`.
    public var authenticationResultsEntry: String {
        switch request.identity {
        case .mailFrom: "spf=\(result.rawValue) smtp.mailfrom=\(Self.propertyValue(request.sender))"
        case .helo: "spf=\(result.rawValue) smtp.helo=\(Self.value(request.helo))"
        }
    }

    /// A complete `Received-SPF:` header field without the trailing CRLF
    /// ([RFC 7208 §9.1](https://www.rfc-editor.org/rfc/rfc7208#section-9.1)).
    ///
    /// `receiver` overrides the request's receiver name.
    public func receivedSPFHeader(receiver: String? = nil) -> String {
        let receiverName = receiver ?? request.receiver ?? "unknown"
        let client = request.clientAddress.description
        let who = request.identity == .mailFrom ? "domain of \(request.sender)" : "domain of \(request.helo)"
        let comment: String
        switch result {
        case .pass: comment = "\(who) designates \(client) as permitted sender"
        case .fail: comment = "\(who) does not designate \(client) as permitted sender"
        case .softfail: comment = "transitioning \(who) does not designate \(client) as permitted sender"
        case .neutral: comment = "\(client) is neither permitted nor denied by \(who)"
        case .none: comment = "\(who) does not designate permitted sender hosts"
        case .temperror: comment = "error in processing during lookup of \(request.domain)"
        case .permerror: comment = "permanent error in processing \(request.domain)"
        }
        var pairs = [
            "client-ip=\(client)",
            "envelope-from=\(Self.value(request.sender))",
            "helo=\(Self.value(request.helo))",
        ]
        if let problem, result == .permerror || result == .temperror { pairs.append("problem=\(Self.value(problem))") }
        pairs.append("receiver=\(Self.value(receiverName))")
        pairs.append("identity=\(request.identity.rawValue)")
        if let mechanism { pairs.append("mechanism=\(Self.value(mechanism))") }
        return "Received-SPF: \(result.rawValue) (\(receiverName): \(Self.commentSafe(comment))) " + pairs.joined(separator: "; ") + ";"
    }

    /// A dot-atom when the text is one, otherwise a quoted-string (RFC 5322 §3.2.3–3.2.4).
    static func value(_ text: String) -> String {
        if isDotAtom(text) { return text }
        var quoted = "\""
        for character in text where character.isASCII && character != "\r" && character != "\n" {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    /// True for a dot-atom: atoms of ASCII letters, digits and `atext` symbols joined by single dots. Checked
    /// byte by byte (it runs for every message's header): a non-ASCII byte fails it as a non-ASCII character would.
    static func isDotAtom(_ text: String) -> Bool {
        var previous = UInt8(ascii: ".")  // as if after a dot: a leading dot fails
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                if previous == UInt8(ascii: ".") { return false }
            } else if !isAtomText(byte) {
                return false
            }
            previous = byte
        }
        return previous != UInt8(ascii: ".")  // also false for the empty text
    }

    /// RFC 5322 atext: ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
    private static func isAtomText(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// RFC 8601 pvalue: `local-part@domain` may stand unquoted when the local-part is a dot-atom.
    static func propertyValue(_ address: String) -> String {
        guard let at = address.lastAtSign else { return value(address) }
        let local = String(address[..<at])
        let domain = String(address[address.index(after: at)...])
        guard isDotAtom(local) || value(local) == local, isDotAtom(domain) || value(domain) == domain else { return value(address) }
        return address
    }

    /// Keeps a comment balanced: no parentheses, backslashes or line breaks from the input.
    private static func commentSafe(_ text: String) -> String {
        String(text.map { "()\\\r\n".contains($0) ? " " : $0 })
    }
}
