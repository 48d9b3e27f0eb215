// DKIMPublicKey: a verification key from a key record's p= (RSA SubjectPublicKeyInfo or bare PKCS #1,
// raw Ed25519 per RFC 8463 §4) and the verify primitive of rsa-sha256 (PKCS #1 v1.5 over SHA-256) and
// ed25519-sha256 (Ed25519 over the SHA-256 hash); also the owned OpenSSL key both key types share.

import COpenSSL

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
    // Immutable after init; OpenSSL allows concurrent use of one EVP_PKEY for sign/verify.
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

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
        guard algorithm.keyType == keyType, let context = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_MD_CTX_free(context)
            ERR_clear_error()
        }
        switch algorithm {
        case .rsaSHA256:
            guard EVP_DigestVerifyInit(context, nil, DKIMSHA256.digest, nil, key.pointer) == 1 else { return false }
            return EVP_DigestVerify(context, signature, signature.count, data, data.count) == 1
        case .ed25519SHA256:
            // RFC 8463 §3: the Ed25519 input is the SHA-256 hash, not the data itself.
            let digest = DKIMSHA256.hash(data)
            guard EVP_DigestVerifyInit(context, nil, nil, nil, key.pointer) == 1 else { return false }
            return EVP_DigestVerify(context, signature, signature.count, digest, digest.count) == 1
        }
    }
}
