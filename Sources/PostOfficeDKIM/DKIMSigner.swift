// DKIMSigner: sans-I/O DKIM signing (RFC 6376 §5, RFC 8463): relaxed/relaxed, a fixed list of header names
// with From, To, Subject and Date over-signed, `t=` from the caller's clock. The body streams through one
// hasher shared by every key, so an RSA and an Ed25519 signature cost one pass.

/// A key to sign with, and the name it is published under.
public struct DKIMSigningKey: Sendable {
    public var privateKey: DKIMPrivateKey
    /// `d=`.
    public var domain: String
    /// `s=`: the key record is at `selector._domainkey.domain`.
    public var selector: String

    public init(privateKey: DKIMPrivateKey, domain: String, selector: String) {
        self.privateKey = privateKey
        self.domain = domain
        self.selector = selector
    }
}

/// Why a message could not be signed.
public enum DKIMSigningError: Error, Hashable, Sendable {
    /// No From field: RFC 6376 §5.4 requires From to be signed.
    case missingFrom
    /// The header section is larger than the signer keeps.
    case headerSectionTooLarge
    /// `d=` or `s=` is not a domain name.
    case invalidDomain(String)
    case key(DKIMKeyError)
}

/// Signs one message with one or more keys, [RFC 6376 §5](https://www.rfc-editor.org/rfc/rfc6376#section-5).
///
/// ```
/// var signer = DKIMSigner(keys: [rsa, ed25519], time: nowSeconds)
/// signer.receive(chunk)                          // the whole message, as often as needed
/// let fields = try signer.finish()               // "DKIM-Signature: ...\r\n" each, to prepend
/// ```
public struct DKIMSigner: Sendable {
    /// Header fields signed when present, in this order (RFC 6376 §5.4.1's recommendations).
    public static let defaultHeaders = [
        "from", "to", "cc", "subject", "date", "message-id", "reply-to", "mime-version", "content-type",
        "in-reply-to", "references",
    ]
    /// Listed once more than they occur, so adding one later breaks the signature (§8.15 over-signing).
    public static let defaultOversignedHeaders = ["from", "subject", "to", "date"]

    public let keys: [DKIMSigningKey]
    /// `t=`, seconds since the epoch.
    public let time: Int
    /// `x=`, when the signatures should expire.
    public let expiration: Int?
    public let headerNames: [String]
    public let oversignedHeaders: [String]
    public let maximumHeaderBytes: Int

    private var headerBytes: [UInt8] = []
    private var inBody = false
    private var overflow = false
    private var bodyHasher = DKIMBodyHasher(canonicalization: .relaxed)

    public init(
        keys: [DKIMSigningKey], time: Int, expiration: Int? = nil, headerNames: [String] = DKIMSigner.defaultHeaders,
        oversignedHeaders: [String] = DKIMSigner.defaultOversignedHeaders, maximumHeaderBytes: Int = 256 * 1024
    ) {
        self.keys = keys
        self.time = time
        self.expiration = expiration
        self.headerNames = headerNames.map { $0.lowercased() }
        self.oversignedHeaders = oversignedHeaders.map { $0.lowercased() }
        self.maximumHeaderBytes = maximumHeaderBytes
    }

    /// Adds message bytes (header section, blank line, body) in any split.
    public mutating func receive(_ bytes: some Collection<UInt8>) {
        if inBody {
            bodyHasher.update(bytes)
            return
        }
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            if !overflow { headerBytes.append(byte) }
            if headerBytes.count > maximumHeaderBytes {
                overflow = true
                headerBytes = Array(headerBytes.suffix(2))
            }
            if byte == 10 {
                let count = headerBytes.count
                let blank = count == 1 || (count == 2 && headerBytes[0] == 13)
                    || (count >= 2 && headerBytes[count - 2] == 10)
                    || (count >= 3 && headerBytes[count - 2] == 13 && headerBytes[count - 3] == 10)
                if blank {
                    inBody = true
                    bodyHasher.update(bytes[index...])
                    return
                }
            }
            if overflow { headerBytes = Array(headerBytes.suffix(2)) }
        }
    }

    /// The DKIM-Signature fields, one per key in order, each folded and ending in CRLF, to put on top of
    /// the message.
    public mutating func finish() throws(DKIMSigningError) -> [String] {
        if overflow { throw .headerSectionTooLarge }
        let fields = DKIMHeaderField.fields(of: headerBytes)
        guard fields.contains(where: { $0.lowercasedName == "from" }) else { throw .missingFrom }
        var names: [String] = []
        for name in headerNames {
            let present = fields.filter { $0.lowercasedName == name }.count
            let times = present + (oversignedHeaders.contains(name) ? 1 : 0)
            names += Array(repeating: name, count: times)
        }
        for name in oversignedHeaders where !headerNames.contains(name) {
            names += Array(repeating: name, count: fields.filter { $0.lowercasedName == name }.count + 1)
        }
        let bodyHash = DKIMBase64.encode(bodyHasher.finalize())
        var headerData: [UInt8] = []
        for field in DKIMHeaderField.select(names, from: fields) { headerData += field.canonicalized(.relaxed) }

        var output: [String] = []
        for key in keys {
            guard DKIMSignature.isDomain(key.domain) else { throw .invalidDomain(key.domain) }
            guard DKIMSignature.isDomain(key.selector) else { throw .invalidDomain(key.selector) }
            var tags = [
                "v=1", "a=\(key.privateKey.algorithm.rawValue)", "c=relaxed/relaxed", "d=\(key.domain)",
                "s=\(key.selector)", "t=\(time)",
            ]
            if let expiration { tags.append("x=\(expiration)") }
            tags.append("h=\(names.joined(separator: ":"))")
            tags.append("bh=\(bodyHash)")
            tags.append("b=")
            let unsigned = Self.fold(tags)
            guard let field = DKIMHeaderField(raw: Array(unsigned.utf8) + [13, 10]) else { continue }
            let signature: [UInt8]
            do {
                signature = try key.privateKey.sign(headerData + field.canonicalized(.relaxed, dropCRLF: true))
            } catch {
                throw .key(error)
            }
            output.append(unsigned + Self.foldBase64(DKIMBase64.encode(signature), column: Self.lastLineLength(unsigned)) + "\r\n")
        }
        return output
    }

    /// `DKIM-Signature: ` and the tags, folded before a tag when a line would pass 78 columns; `h=` may
    /// break at its colons.
    static func fold(_ tags: [String]) -> String {
        var text = "DKIM-Signature:"
        var column = text.utf8.count
        for (index, tag) in tags.enumerated() {
            let piece = tag + (index == tags.count - 1 ? "" : ";")
            let pieces = tag.hasPrefix("h=") ? Self.splitKeepingColons(piece) : [piece]
            for (part, chunk) in pieces.enumerated() {
                let separator = part == 0 ? " " : ""
                if column + separator.utf8.count + chunk.utf8.count > 78 && column > 1 {
                    text += "\r\n "
                    column = 1
                } else {
                    text += separator
                    column += separator.utf8.count
                }
                text += chunk
                column += chunk.utf8.count
            }
        }
        return text
    }

    private static func splitKeepingColons(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if character == ":" {
                parts.append(current)
                current = ""
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }

    /// The base64 `b=` value wrapped at 76 columns (FWS inside base64 is allowed, §2.4).
    static func foldBase64(_ text: String, column: Int) -> String {
        var out = ""
        var column = column
        for character in text {
            if column >= 76 {
                out += "\r\n "
                column = 1
            }
            out.append(character)
            column += 1
        }
        return out
    }

    private static func lastLineLength(_ text: String) -> Int {
        text.split(separator: "\n", omittingEmptySubsequences: false).last?.utf8.count ?? 0
    }
}
