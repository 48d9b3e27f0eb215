// DKIMPublicKey: a verification key from a key record's p= (RSA SubjectPublicKeyInfo or bare PKCS #1,
// raw Ed25519 per RFC 8463 §4) and the verify primitive of rsa-sha256 (PKCS #1 v1.5 over SHA-256) and
// ed25519-sha256 (Ed25519 over the SHA-256 hash); also the owned OpenSSL key both key types share.

import COpenSSL
import PostOfficeCore

/// Why a key could not be loaded, generated or used.
public enum DKIMKeyError: Error, Hashable, Sendable {
    /// The PEM or DER did not decode to a key (encrypted PEM keys are refused too).
    case unreadableKey
    /// A key type other than RSA and Ed25519.
    case unsupportedKeyType
    /// An RSA key below 1024 bits ([RFC 8301 §3.2](https://www.rfc-editor.org/rfc/rfc8301#section-3.2)).
    case keyTooSmall(bits: Int)
    /// OpenSSL failed to sign or generate.
    case cryptoFailure(String)
}

/// An owned `EVP_PKEY`.
final class DKIMOpenSSLKey: @unchecked Sendable {
    // The key is immutable after init (OpenSSL allows concurrent use of one EVP_PKEY for sign/verify); the
    // idle verify contexts are guarded by `lock`, and each is used by one thread at a time.
    let pointer: OpaquePointer
    private let lock = Lock()
    /// rsa-sha256 verify contexts (PKCS #1 v1.5 over SHA-256) made ready once and reused: setting one up for
    /// every signature (OpenSSL 3 fetches the algorithm and readies the key for its provider each time)
    /// cost about a fifth of the check on a cached key.
    private var idleVerifyContexts: [OpaquePointer] = []
    private static let maximumIdleVerifyContexts = 8

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit {
        for context in idleVerifyContexts { EVP_PKEY_CTX_free(context) }
        EVP_PKEY_free(pointer)
    }

    /// Whether `signature` is this RSA key's PKCS #1 v1.5 signature of the SHA-256 `digest`.
    func verifyRSA(signature: [UInt8], digest: [UInt8]) -> Bool {
        guard let context = lock.withLock({ idleVerifyContexts.popLast() }) ?? makeRSAVerifyContext() else { return false }
        let verified = EVP_PKEY_verify(context, signature, signature.count, digest, digest.count) == 1
        let kept = lock.withLock { () -> Bool in
            guard idleVerifyContexts.count < Self.maximumIdleVerifyContexts else { return false }
            idleVerifyContexts.append(context)
            return true
        }
        if !kept { EVP_PKEY_CTX_free(context) }
        return verified
    }

    private func makeRSAVerifyContext() -> OpaquePointer? {
        guard let context = EVP_PKEY_CTX_new(pointer, nil) else { return nil }
        guard EVP_PKEY_verify_init(context) == 1, EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1,
            EVP_PKEY_CTX_set_signature_md(context, DKIMSHA256.digest) == 1
        else {
            EVP_PKEY_CTX_free(context)
            return nil
        }
        return context
    }

    var keyType: DKIMKeyType? {
        switch EVP_PKEY_get_base_id(pointer) {
        case EVP_PKEY_RSA: return .rsa
        case EVP_PKEY_ED25519: return .ed25519
        default: return nil
        }
    }

    var bits: Int { Int(EVP_PKEY_get_bits(pointer)) }
}

/// A verification key from a DKIM key record.
public struct DKIMPublicKey: Sendable {
    let key: DKIMOpenSSLKey
    public let keyType: DKIMKeyType

    /// The key size in bits (256 for Ed25519).
    public var bits: Int { key.bits }

    /// Decodes `p=` for `k=`: RSA as SubjectPublicKeyInfo (or bare RSAPublicKey), Ed25519 as 32 raw bytes.
    public init(keyType: DKIMKeyType, bytes: [UInt8]) throws(DKIMKeyError) {
        var loaded: OpaquePointer?
        switch keyType {
        case .rsa:
            loaded = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor = buffer.baseAddress
                if let key = d2i_PUBKEY(nil, &cursor, buffer.count) { return key }
                cursor = buffer.baseAddress
                return d2i_PublicKey(EVP_PKEY_RSA, nil, &cursor, buffer.count)
            }
        case .ed25519:
            guard bytes.count == 32 else { throw .unreadableKey }
            loaded = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, bytes, bytes.count)
        }
        guard let loaded else {
            ERR_clear_error()
            throw .unreadableKey
        }
        key = DKIMOpenSSLKey(loaded)
        guard key.keyType == keyType else { throw .unsupportedKeyType }
        self.keyType = keyType
    }

    /// Whether `signature` signs `data` (the canonicalized header data of §3.7) under `algorithm`.
    public func verify(signature: [UInt8], data: [UInt8], algorithm: DKIMAlgorithm) -> Bool {
        guard algorithm.keyType == keyType else { return false }
        if algorithm == .rsaSHA256 {
            defer { ERR_clear_error() }
            // The same check as EVP_DigestVerify over `data`: SHA-256 here, then the signature over the digest.
            return key.verifyRSA(signature: signature, digest: DKIMSHA256.hash(data))
        }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_MD_CTX_free(context)
            ERR_clear_error()
        }
        switch algorithm {
        case .rsaSHA256:
            return false  // checked above
        case .ed25519SHA256:
            // RFC 8463 §3: the Ed25519 input is the SHA-256 hash, not the data itself.
            let digest = DKIMSHA256.hash(data)
            guard EVP_DigestVerifyInit(context, nil, nil, nil, key.pointer) == 1 else { return false }
            return EVP_DigestVerify(context, signature, signature.count, digest, digest.count) == 1
        }
    }
}
