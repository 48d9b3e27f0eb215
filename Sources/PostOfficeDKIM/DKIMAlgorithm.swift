// DKIMAlgorithm: the `a=` signing algorithms we verify and sign with, and the `c=` canonicalizations;
// rsa-sha1 is deliberately absent (RFC 8301 §3.1: verifiers must not accept it).

/// A signing algorithm, the `a=` tag.
public enum DKIMAlgorithm: String, Hashable, Sendable, CaseIterable {
    /// [RFC 6376 §3.3.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.3.2).
    case rsaSHA256 = "rsa-sha256"
    /// [RFC 8463 §3](https://www.rfc-editor.org/rfc/rfc8463#section-3): Ed25519 over the SHA-256 hash.
    case ed25519SHA256 = "ed25519-sha256"

    /// The key type (`k=`) a record must have for this algorithm.
    public var keyType: DKIMKeyType { self == .rsaSHA256 ? .rsa : .ed25519 }
}

/// A canonicalization algorithm, [RFC 6376 §3.4](https://www.rfc-editor.org/rfc/rfc6376#section-3.4).
public enum DKIMCanonicalization: String, Hashable, Sendable, CaseIterable {
    case simple
    case relaxed
}
