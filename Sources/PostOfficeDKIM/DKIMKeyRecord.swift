// DKIMKeyRecord: a parsed DKIM key record, the TXT text at `selector._domainkey.domain` (RFC 6376 §3.6.1,
// RFC 8463 §4 for k=ed25519). Only syntax here; whether the key fits a signature is the verifier's call.

/// A key type, the record's `k=` tag.
public enum DKIMKeyType: String, Hashable, Sendable, CaseIterable {
    case rsa
    /// [RFC 8463 §4](https://www.rfc-editor.org/rfc/rfc8463#section-4): `p=` is the raw 32-byte key.
    case ed25519
}

/// Why a key record is unusable (a `permerror`).
public enum DKIMKeyRecordError: Error, Hashable, Sendable {
    case tagList(DKIMTagListError)
    /// `v=` present but not `DKIM1`, or not the first tag (§3.6.1).
    case invalidVersion(String)
    /// `p=` is missing.
    case missingPublicKey
    /// `p=` is not base64.
    case invalidPublicKey
    /// `k=` names a key type we do not know.
    case unsupportedKeyType(String)
}

/// A DKIM key record, [RFC 6376 §3.6.1](https://www.rfc-editor.org/rfc/rfc6376#section-3.6.1).
public struct DKIMKeyRecord: Hashable, Sendable {
    public var keyType: DKIMKeyType
    /// `p=` decoded; empty means the key was revoked.
    public var publicKey: [UInt8]
    /// `h=`: acceptable hash algorithms, nil when absent (all allowed).
    public var hashAlgorithms: [String]?
    /// `s=`: service types, nil when absent (`*`).
    public var serviceTypes: [String]?
    /// `t=`: flags such as `y` (testing) and `s` (i= domain must equal d=).
    public var flags: [String]
    /// `n=`: notes, as written.
    public var notes: String?

    public init(
        keyType: DKIMKeyType, publicKey: [UInt8], hashAlgorithms: [String]? = nil, serviceTypes: [String]? = nil,
        flags: [String] = [], notes: String? = nil
    ) {
        self.keyType = keyType
        self.publicKey = publicKey
        self.hashAlgorithms = hashAlgorithms
        self.serviceTypes = serviceTypes
        self.flags = flags
        self.notes = notes
    }

    /// `p=` was empty: the signer revoked the key (§3.6.1).
    public var isRevoked: Bool { publicKey.isEmpty }
    /// `t=y`: the domain is testing DKIM.
    public var isTesting: Bool { flags.contains("y") }
    /// `t=s`: `i=` must be in exactly `d=`, not a subdomain.
    public var isStrict: Bool { flags.contains("s") }
    /// Whether the record may be used for email (`s=` absent, `*` or `email`).
    public var allowsEmail: Bool { serviceTypes.map { $0.contains("*") || $0.contains("email") } ?? true }
    /// Whether the record allows SHA-256 (`h=` absent or listing `sha256`).
    public var allowsSHA256: Bool { hashAlgorithms?.contains("sha256") ?? true }

    /// Parses a key record; the TXT record's strings must already be joined (§3.6.2.2).
    public init(parsing text: String) throws(DKIMKeyRecordError) {
        let list: DKIMTagList
        do {
            list = try DKIMTagList(parsing: text)
        } catch {
            throw .tagList(error)
        }
        if let version = list["v"] {
            guard version == "DKIM1", list.tags.first?.name == "v" else { throw .invalidVersion(version) }
        }
        let keyTypeName = list["k"] ?? "rsa"
        guard let keyType = DKIMKeyType(rawValue: keyTypeName.lowercased()) else {
            throw .unsupportedKeyType(keyTypeName)
        }
        self.keyType = keyType
        guard let encoded = list["p"] else { throw .missingPublicKey }
        guard let publicKey = DKIMBase64.decode(encoded) else { throw .invalidPublicKey }
        self.publicKey = publicKey
        hashAlgorithms = list["h"].map(Self.colonList)
        serviceTypes = list["s"].map(Self.colonList)
        flags = list["t"].map(Self.colonList) ?? []
        notes = list["n"]
    }

    /// The record text to publish: `v=DKIM1; k=...; p=...` plus any h=, s=, t=, n=.
    public var serialized: String {
        var tags = ["v=DKIM1", "k=\(keyType.rawValue)"]
        if let hashAlgorithms { tags.append("h=\(hashAlgorithms.joined(separator: ":"))") }
        if let serviceTypes { tags.append("s=\(serviceTypes.joined(separator: ":"))") }
        if !flags.isEmpty { tags.append("t=\(flags.joined(separator: ":"))") }
        if let notes { tags.append("n=\(notes)") }
        tags.append("p=\(DKIMBase64.encode(publicKey))")
        return tags.joined(separator: "; ")
    }

    /// Split at the colon's byte, not by Character: a combining mark after a colon makes one Character of
    /// the two, which a Character split would not cut (and a record written back would read differently).
    static func colonList(_ value: String) -> [String] {
        value.utf8.split(separator: UInt8(ascii: ":"))
            .map { DKIMTagList.removingWhitespace(String(decoding: $0, as: UTF8.self)).lowercased() }
            .filter { !$0.isEmpty }
    }
}
