// DKIMSignature: a parsed DKIM-Signature header field value (RFC 6376 §3.5) with the §3.2 tag-list rules
// and the §6.1.1 checks a verifier makes before any DNS query. Errors are typed (they become `permerror`)
// and `serialized` re-creates a value that parses to the same signature.

/// Why a DKIM-Signature value is unusable; each is a `permerror` for that signature.
public enum DKIMSignatureError: Error, Hashable, Sendable {
    case tagList(DKIMTagListError)
    /// A required tag (v, a, b, bh, d, h, s) is missing.
    case missingTag(String)
    /// `v=` is not `1`.
    case unsupportedVersion(String)
    /// `a=` names an algorithm we do not verify (rsa-sha1 is refused per RFC 8301).
    case unsupportedAlgorithm(String)
    /// `c=` is not `simple`/`relaxed` pairs.
    case invalidCanonicalization(String)
    /// `b=` or `bh=` is not base64, or empty.
    case invalidBase64(tag: String)
    /// A numeric tag (l, t, x) is not 1-76 digits or does not fit.
    case invalidNumber(tag: String)
    /// `q=` lists no method we support (only `dns/txt` exists).
    case unsupportedQueryMethod(String)
    /// `d=` or `s=` is not a domain name / selector.
    case invalidDomain(String)
    /// `h=` does not include From (§6.1.1).
    case fromNotSigned
    /// `i=` is not in `d=` or one of its subdomains (§6.1.1).
    case identityNotInDomain(String)
    /// `x=` is before `t=` (§3.5).
    case expiresBeforeSigned
}

/// A parsed DKIM-Signature, [RFC 6376 §3.5](https://www.rfc-editor.org/rfc/rfc6376#section-3.5).
public struct DKIMSignature: Hashable, Sendable {
    public var algorithm: DKIMAlgorithm
    /// `b=`: the signature bytes.
    public var signature: [UInt8]
    /// `bh=`: the body hash.
    public var bodyHash: [UInt8]
    public var headerCanonicalization: DKIMCanonicalization
    public var bodyCanonicalization: DKIMCanonicalization
    /// `d=`: the signing domain, as written.
    public var domain: String
    /// `h=`: signed header field names in order, as written (compared case-insensitively).
    public var signedHeaders: [String]
    /// `i=`: the agent or user identifier, when given (default `@d`).
    public var identity: String?
    /// `l=`: how many octets of the canonicalized body are signed, when limited.
    public var bodyLength: Int?
    /// `q=`, as written, when present.
    public var queryMethods: String?
    /// `s=`: the selector.
    public var selector: String
    /// `t=`: signing time, seconds since the epoch.
    public var timestamp: Int?
    /// `x=`: expiry time, seconds since the epoch.
    public var expiration: Int?
    /// `z=`: copied header fields, as written.
    public var copiedHeaders: String?

    public init(
        algorithm: DKIMAlgorithm, signature: [UInt8], bodyHash: [UInt8],
        headerCanonicalization: DKIMCanonicalization = .relaxed, bodyCanonicalization: DKIMCanonicalization = .relaxed,
        domain: String, signedHeaders: [String], identity: String? = nil, bodyLength: Int? = nil,
        queryMethods: String? = nil, selector: String, timestamp: Int? = nil, expiration: Int? = nil,
        copiedHeaders: String? = nil
    ) {
        self.algorithm = algorithm
        self.signature = signature
        self.bodyHash = bodyHash
        self.headerCanonicalization = headerCanonicalization
        self.bodyCanonicalization = bodyCanonicalization
        self.domain = domain
        self.signedHeaders = signedHeaders
        self.identity = identity
        self.bodyLength = bodyLength
        self.queryMethods = queryMethods
        self.selector = selector
        self.timestamp = timestamp
        self.expiration = expiration
        self.copiedHeaders = copiedHeaders
    }

    /// The DNS name whose TXT record holds the key: `selector._domainkey.domain` (§3.6.2.1).
    public var keyQuery: DKIMKeyQuery { DKIMKeyQuery(domain: domain, selector: selector) }

    /// Parses a DKIM-Signature field value (everything after the colon, folding included).
    public init(parsing value: String) throws(DKIMSignatureError) {
        try self.init(parsing: Array(value.utf8))
    }

    /// Parses a DKIM-Signature field value. Never traps.
    public init(parsing value: [UInt8]) throws(DKIMSignatureError) {
        let list: DKIMTagList
        do {
            list = try DKIMTagList(parsing: value)
        } catch {
            throw .tagList(error)
        }
        try self.init(tags: list)
    }

    /// Builds a signature from an already parsed tag-list, applying the §3.5 and §6.1.1 rules.
    public init(tags list: DKIMTagList) throws(DKIMSignatureError) {
        // One pass over the tags by their name's bytes (names are case-sensitive, §3.2), rather than a search
        // of the list for each of the fourteen names.
        var values = [String?](repeating: nil, count: Self.tagNames.count)
        for tag in list.tags {
            if let slot = Self.slot(of: tag.name) { values[slot] = tag.value }
        }
        func required(_ slot: Int) throws(DKIMSignatureError) -> String {
            guard let value = values[slot] else { throw .missingTag(Self.tagNames[slot]) }
            return value
        }
        let version = try required(Self.versionSlot)
        guard version == "1" else { throw .unsupportedVersion(version) }
        let algorithmName = try required(Self.algorithmSlot)
        guard let algorithm = DKIMAlgorithm(rawValue: algorithmName) ?? DKIMAlgorithm(rawValue: algorithmName.lowercased())
        else {
            throw .unsupportedAlgorithm(algorithmName)
        }
        self.algorithm = algorithm
        guard let signature = DKIMBase64.decode(try required(Self.signatureSlot)), !signature.isEmpty else {
            throw .invalidBase64(tag: "b")
        }
        self.signature = signature
        guard let bodyHash = DKIMBase64.decode(try required(Self.bodyHashSlot)), !bodyHash.isEmpty else {
            throw .invalidBase64(tag: "bh")
        }
        self.bodyHash = bodyHash
        // c= "header[/body]", each defaulting to simple (§3.5).
        headerCanonicalization = .simple
        bodyCanonicalization = .simple
        if let canonicalization = values[Self.canonicalizationSlot], let pair = Self.usualCanonicalizations[canonicalization] {
            // The lower-case spellings signers write: what the general reading below makes of them.
            (headerCanonicalization, bodyCanonicalization) = pair
        } else if let canonicalization = values[Self.canonicalizationSlot] {
            let parts = Self.split(canonicalization, at: UInt8(ascii: "/"))
            guard parts.count <= 2, let header = DKIMCanonicalization(rawValue: parts[0].lowercased()) else {
                throw .invalidCanonicalization(canonicalization)
            }
            headerCanonicalization = header
            if parts.count == 2 {
                guard let body = DKIMCanonicalization(rawValue: parts[1].lowercased()) else {
                    throw .invalidCanonicalization(canonicalization)
                }
                bodyCanonicalization = body
            }
        }
        domain = try required(Self.domainSlot)
        guard Self.isDomain(domain) else { throw .invalidDomain(domain) }
        selector = try required(Self.selectorSlot)
        guard Self.isDomain(selector) else { throw .invalidDomain(selector) }
        // h= is colon-separated with FWS allowed around each name.
        guard let headers = Self.fieldNames(try required(Self.headersSlot)) else { throw .missingTag("h") }
        signedHeaders = headers.names
        guard headers.includesFrom else { throw .fromNotSigned }
        identity = values[Self.identitySlot]
        if let identity {
            guard let at = identity.lastIndex(of: "@") else { throw .identityNotInDomain(identity) }
            let identityDomain = identity[identity.index(after: at)...].lowercased()
            let signingDomain = domain.lowercased()
            guard identityDomain == signingDomain || identityDomain.hasSuffix("." + signingDomain) else {
                throw .identityNotInDomain(identity)
            }
        }
        bodyLength = try Self.number(values[Self.lengthSlot], tag: "l")
        queryMethods = values[Self.querySlot]
        if let queryMethods {
            let methods = queryMethods.split(separator: ":").map { DKIMTagList.removingWhitespace($0).lowercased() }
            guard methods.contains("dns/txt") else { throw .unsupportedQueryMethod(queryMethods) }
        }
        timestamp = try Self.number(values[Self.timestampSlot], tag: "t")
        expiration = try Self.number(values[Self.expirationSlot], tag: "x")
        if let timestamp, let expiration, expiration < timestamp { throw .expiresBeforeSigned }
        copiedHeaders = values[Self.copiedHeadersSlot]
    }

    /// The tags a signature reads, by slot.
    private static let tagNames = ["v", "a", "b", "bh", "c", "d", "s", "h", "i", "l", "q", "t", "x", "z"]
    private static let versionSlot = 0, algorithmSlot = 1, signatureSlot = 2, bodyHashSlot = 3
    private static let canonicalizationSlot = 4, domainSlot = 5, selectorSlot = 6, headersSlot = 7
    private static let identitySlot = 8, lengthSlot = 9, querySlot = 10, timestampSlot = 11
    private static let expirationSlot = 12, copiedHeadersSlot = 13

    /// The slot of a tag name from ``tagNames`` (compared by its one or two bytes), or nil.
    private static func slot(of name: String) -> Int? {
        let utf8 = name.utf8
        guard let first = utf8.first else { return nil }
        switch utf8.count {
        case 1:
            switch first {
            case UInt8(ascii: "v"): return versionSlot
            case UInt8(ascii: "a"): return algorithmSlot
            case UInt8(ascii: "b"): return signatureSlot
            case UInt8(ascii: "c"): return canonicalizationSlot
            case UInt8(ascii: "d"): return domainSlot
            case UInt8(ascii: "s"): return selectorSlot
            case UInt8(ascii: "h"): return headersSlot
            case UInt8(ascii: "i"): return identitySlot
            case UInt8(ascii: "l"): return lengthSlot
            case UInt8(ascii: "q"): return querySlot
            case UInt8(ascii: "t"): return timestampSlot
            case UInt8(ascii: "x"): return expirationSlot
            case UInt8(ascii: "z"): return copiedHeadersSlot
            default: return nil
            }
        case 2:
            return first == UInt8(ascii: "b") && utf8.last == UInt8(ascii: "h") ? bodyHashSlot : nil
        default:
            return nil
        }
    }

    /// `c=` values as signers write them, with the pair each means (the same as reading them piece by piece).
    private static let usualCanonicalizations: [String: (DKIMCanonicalization, DKIMCanonicalization)] = [
        "relaxed/relaxed": (.relaxed, .relaxed), "relaxed/simple": (.relaxed, .simple), "simple/relaxed": (.simple, .relaxed),
        "simple/simple": (.simple, .simple), "relaxed": (.relaxed, .simple), "simple": (.simple, .simple),
    ]

    /// `h=`'s names (whitespace anywhere removed, split at colons) in one pass over the bytes, and whether
    /// From is among them; nil when a name is empty or not an RFC 5322 field-name (printable ASCII except
    /// colon). A name without whitespace in it (the usual case) becomes a string straight from its bytes.
    static func fieldNames(_ text: String) -> (names: [String], includesFrom: Bool)? {
        var text = text
        return text.withUTF8 { bytes -> (names: [String], includesFrom: Bool)? in
            var names: [String] = []
            names.reserveCapacity(16)
            var includesFrom = false
            var start = 0
            let count = bytes.count
            while true {
                var end = start
                while end < count, bytes[end] != 58 { end += 1 }
                // Folding whitespace around a name is trimmed here; whitespace inside one goes the slow way.
                var first = start, last = end
                while first < last, DKIMTagList.isWhitespace(bytes[first]) { first += 1 }
                while last > first, DKIMTagList.isWhitespace(bytes[last - 1]) { last -= 1 }
                guard last > first else { return nil }
                for index in first..<last where bytes[index] < 33 || bytes[index] > 126 { return fieldNamesGathering(bytes) }
                let name = UnsafeBufferPointer(rebasing: bytes[first..<last])
                if name.count == 4, name[0] | 0x20 == 0x66, name[1] | 0x20 == 0x72, name[2] | 0x20 == 0x6F,
                    name[3] | 0x20 == 0x6D
                {
                    includesFrom = true
                }
                names.append(String(decoding: name, as: UTF8.self))
                if end == count { return (names, includesFrom) }
                start = end + 1
            }
        }
    }

    /// ``fieldNames(_:)`` for names with whitespace inside or around them, or invalid: byte by byte.
    static func fieldNamesGathering(_ bytes: UnsafeBufferPointer<UInt8>) -> (names: [String], includesFrom: Bool)? {
        do {  // (the earlier one-pass reading, unchanged)
            var names: [String] = []
            names.reserveCapacity(16)
            var includesFrom = false
            var name: [UInt8] = []
            name.reserveCapacity(32)
            var index = 0
            while true {
                let atEnd = index == bytes.count
                let byte: UInt8 = atEnd ? 58 : bytes[index]
                index += 1
                if DKIMTagList.isWhitespace(byte) { continue }
                if byte != 58 {
                    guard byte >= 33 && byte <= 126 else { return nil }
                    name.append(byte)
                    continue
                }
                guard !name.isEmpty else { return nil }
                if name.count == 4, name[0] | 0x20 == 0x66, name[1] | 0x20 == 0x72, name[2] | 0x20 == 0x6F,
                    name[3] | 0x20 == 0x6D
                {
                    includesFrom = true
                }
                names.append(String(decoding: name, as: UTF8.self))
                name.removeAll(keepingCapacity: true)
                if atEnd { return (names, includesFrom) }
            }
        }
    }

    /// The value as `tag=value; ...`, without folding; it parses back to an equal signature.
    public var serialized: String {
        var tags = ["v=1", "a=\(algorithm.rawValue)", "c=\(headerCanonicalization.rawValue)/\(bodyCanonicalization.rawValue)",
            "d=\(domain)", "s=\(selector)"]
        if let identity { tags.append("i=\(identity)") }
        if let queryMethods { tags.append("q=\(queryMethods)") }
        if let timestamp { tags.append("t=\(timestamp)") }
        if let expiration { tags.append("x=\(expiration)") }
        if let bodyLength { tags.append("l=\(bodyLength)") }
        tags.append("h=\(signedHeaders.joined(separator: ":"))")
        if let copiedHeaders { tags.append("z=\(copiedHeaders)") }
        tags.append("bh=\(DKIMBase64.encode(bodyHash))")
        tags.append("b=\(DKIMBase64.encode(signature))")
        return tags.joined(separator: "; ")
    }

    /// 1*76DIGIT (§3.5); values that do not fit an Int are refused rather than clamped.
    static func number(_ text: String?, tag: String) throws(DKIMSignatureError) -> Int? {
        guard let text else { return nil }
        guard !text.isEmpty, text.utf8.count <= 76, text.utf8.allSatisfy({ (48...57).contains($0) }),
            let value = Int(text)
        else { throw .invalidNumber(tag: tag) }
        return value
    }

    /// Labels of letters, digits, hyphens and underscores (selectors and `_domainkey`-style names),
    /// or UTF-8 (RFC 8616); no empty labels. One pass over the UTF-8 bytes.
    static func isDomain(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        var labelLength = 0
        for byte in text.utf8 {
            if byte == 46 {
                guard labelLength > 0 else { return false }
                labelLength = 0
                continue
            }
            guard DKIMTagList.isAlpha(byte) || DKIMTagList.isDigit(byte) || byte == 45 || byte == 95 || byte >= 0x80 else { return false }
            labelLength += 1
            guard labelLength <= 63 else { return false }
        }
        return labelLength > 0
    }

    /// `text` split at every `separator` byte, empty pieces kept; by UTF-8 byte (the separators are ASCII),
    /// not by Character, which costs grapheme breaking.
    static func split(_ text: String, at separator: UInt8) -> [String] {
        var pieces: [String] = []
        var start = text.utf8.startIndex
        var index = start
        while index != text.utf8.endIndex {
            if text.utf8[index] == separator {
                pieces.append(String(text.utf8[start..<index])!)
                start = text.utf8.index(after: index)
            }
            text.utf8.formIndex(after: &index)
        }
        pieces.append(String(text.utf8[start..<index])!)
        return pieces
    }
}
