// DKIMResult: the outcome of one DKIM-Signature, with the RFC 8601 result names and the properties an
// Authentication-Results header carries (header.d, header.s, header.b), plus a reason for the failures.

/// A DKIM result keyword, [RFC 8601 §2.7.1](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.1).
public enum DKIMResultStatus: String, Hashable, Sendable {
    case none, pass, fail, neutral, temperror, permerror
}

/// Why a signature did not pass.
public enum DKIMFailureReason: Hashable, Sendable, CustomStringConvertible {
    /// The body does not hash to `bh=` (the body was changed).
    case bodyHashMismatch
    /// `b=` does not verify (signed header fields changed, or the wrong key).
    case signatureMismatch
    /// `l=` is longer than the canonicalized body.
    case bodyLengthExceedsBody
    /// The DKIM-Signature value is unusable.
    case invalidSignature(DKIMSignatureError)
    /// `x=` is in the past.
    case expired
    /// The key record is unusable.
    case invalidKeyRecord(DKIMKeyRecordError)
    /// `p=` in the key record is empty: the key was revoked.
    case keyRevoked
    /// No key record at the selector's name.
    case noKey
    /// The DNS answer was a temporary failure (or never came).
    case dnsTemporaryFailure
    /// The key's `k=`, `h=` or `s=` does not allow this signature, or the key does not decode.
    case inappropriateKey
    /// An RSA key under 1024 bits (RFC 8301).
    case keyTooSmall(bits: Int)
    /// `t=s` in the key and `i=` is in a subdomain of `d=`.
    case identityNotExact
    /// The header section exceeded the verifier's bound, so nothing could be checked.
    case headerSectionTooLarge
    /// More signatures than the verifier checks.
    case tooManySignatures
    /// The key is in testing mode (`t=y`): the failure is reported as neutral.
    case testing(underlying: String)

    public var description: String {
        switch self {
        case .bodyHashMismatch: "body hash mismatch"
        case .signatureMismatch: "signature mismatch"
        case .bodyLengthExceedsBody: "l= exceeds body length"
        case .invalidSignature(let error): "invalid signature: \(error)"
        case .expired: "signature expired"
        case .invalidKeyRecord(let error): "invalid key record: \(error)"
        case .keyRevoked: "key revoked"
        case .noKey: "no key for signature"
        case .dnsTemporaryFailure: "key unavailable: DNS temporary failure"
        case .inappropriateKey: "inappropriate key"
        case .keyTooSmall(let bits): "RSA key too small (\(bits) bits)"
        case .identityNotExact: "i= not in d= exactly, as t=s requires"
        case .headerSectionTooLarge: "header section too large"
        case .tooManySignatures: "too many signatures"
        case .testing(let underlying): "testing mode: \(underlying)"
        }
    }
}

/// One verified (or failed) signature.
public struct DKIMResult: Hashable, Sendable {
    public var status: DKIMResultStatus
    public var reason: DKIMFailureReason?
    /// `d=`, when the signature got far enough to have one.
    public var domain: String?
    /// `s=`, likewise.
    public var selector: String?
    /// `i=`, when present.
    public var identity: String?
    /// `a=`, when it parsed.
    public var algorithm: DKIMAlgorithm?
    /// The `b=` value as written (folding removed), for `header.b`.
    public var signatureText: String?

    public init(
        status: DKIMResultStatus, reason: DKIMFailureReason? = nil, domain: String? = nil, selector: String? = nil,
        identity: String? = nil, algorithm: DKIMAlgorithm? = nil, signatureText: String? = nil
    ) {
        self.status = status
        self.reason = reason
        self.domain = domain
        self.selector = selector
        self.identity = identity
        self.algorithm = algorithm
        self.signatureText = signatureText
    }

    /// The message had no DKIM-Signature.
    public static let none = DKIMResult(status: .none)

    /// The result as a resinfo of an Authentication-Results header ([RFC 8601 §2.2](https://www.rfc-editor.org/rfc/rfc8601#section-2.2),
    /// `header.b` from [RFC 6008](https://www.rfc-editor.org/rfc/rfc6008)):
    /// `dkim=pass header.d=example.com header.s=sel header.b=abcdefgh`.
    public var authenticationResult: String {
        var text = "dkim=" + status.rawValue
        text.reserveCapacity(96)
        if let reason {
            text += " reason=\""
            text += Self.quoted(reason.description)
            text += "\""
        }
        if let domain {
            text += " header.d="
            text += Self.propertyValue(domain)
        }
        if let selector {
            text += " header.s="
            text += Self.propertyValue(selector)
        }
        if let signatureText, !signatureText.isEmpty {
            // RFC 6008 §4: at least 8 characters, enough to tell signatures apart.
            text += " header.b="
            text += Self.propertyValue(Self.firstCharacters(8, of: signatureText))
        }
        return text
    }

    /// `String(text.prefix(count))`, taken on the bytes when they are ASCII without CR up to one past the
    /// count (then each of those characters is one byte; base64 `b=` text always is).
    static func firstCharacters(_ count: Int, of text: String) -> String {
        let head = text.utf8.prefix(count + 1)
        guard head.allSatisfy({ $0 < 0x80 && $0 != 13 }) else { return String(text.prefix(count)) }
        return String(decoding: head.prefix(count), as: UTF8.self)
    }

    /// The text without `"`, backslashes and control characters. Each of those is ASCII, and UTF-8 never uses
    /// ASCII bytes inside a longer sequence, so leaving out bytes removes exactly those characters.
    private static func quoted(_ text: String) -> String {
        func isLeftOut(_ byte: UInt8) -> Bool { byte == 0x22 || byte == 0x5C || byte < 32 || byte == 127 }
        guard text.utf8.contains(where: isLeftOut) else { return text }
        return String(decoding: text.utf8.filter { !isLeftOut($0) }, as: UTF8.self)
    }

    /// A property value is a token or a quoted-string; base64 `/`, `+` and `=` force quoting.
    private static func propertyValue(_ text: String) -> String {
        let token = text.utf8.allSatisfy {
            DKIMTagList.isAlpha($0) || DKIMTagList.isDigit($0) || $0 == 45 || $0 == 46 || $0 == 95 || $0 >= 0x80
        }
        return token ? text : "\"\(quoted(text))\""
    }
}
