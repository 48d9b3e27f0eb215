// DKIMPrivateKey: a signing key (RSA of at least 1024 bits, or Ed25519) loaded from PEM or an Ed25519
// seed, or generated; signs §3.7 header data and exports what a key record publishes.

import COpenSSL

/// A signing key: RSA (at least 1024 bits) or Ed25519.
public struct DKIMPrivateKey: Sendable {
    let key: DKIMOpenSSLKey
    public let keyType: DKIMKeyType

    /// The algorithm this key signs with.
    public var algorithm: DKIMAlgorithm { keyType == .rsa ? .rsaSHA256 : .ed25519SHA256 }

    /// Loads an unencrypted PEM private key (PKCS #8, or PKCS #1 "RSA PRIVATE KEY").
    public init(pem: String) throws(DKIMKeyError) {
        let bytes = Array(pem.utf8)
        let loaded: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return COpenSSL_read_private_key(bio)
        }
        guard let loaded else {
            ERR_clear_error()
            throw .unreadableKey
        }
        try self.init(owning: DKIMOpenSSLKey(loaded))
    }

    /// An Ed25519 key from its 32-byte seed (RFC 8032 §5.1.5), the form RFC 8463 Appendix A prints.
    public init(ed25519Seed seed: [UInt8]) throws(DKIMKeyError) {
        guard seed.count == 32, let loaded = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, seed.count) else {
            ERR_clear_error()
            throw .unreadableKey
        }
        try self.init(owning: DKIMOpenSSLKey(loaded))
    }

    init(owning key: DKIMOpenSSLKey) throws(DKIMKeyError) {
        guard let keyType = key.keyType else { throw .unsupportedKeyType }
        if keyType == .rsa, key.bits < 1024 { throw .keyTooSmall(bits: key.bits) }
        self.key = key
        self.keyType = keyType
    }

    /// The private key as unencrypted PKCS #8 PEM.
    public var pem: String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key.pointer, nil, nil, 0, nil, nil) == 1 else { return "" }
        var data: UnsafeMutablePointer<CChar>?
        let length = COpenSSL_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// The bytes a key record's `p=` carries: SubjectPublicKeyInfo DER for RSA, the raw key for Ed25519.
    public var publicKeyBytes: [UInt8] {
        switch keyType {
        case .rsa:
            let length = i2d_PUBKEY(key.pointer, nil)
            guard length > 0 else { return [] }
            var out = [UInt8](repeating: 0, count: Int(length))
            out.withUnsafeMutableBufferPointer { buffer in
                var cursor = buffer.baseAddress
                _ = i2d_PUBKEY(key.pointer, &cursor)
            }
            return out
        case .ed25519:
            var length = 32
            var out = [UInt8](repeating: 0, count: 32)
            guard EVP_PKEY_get_raw_public_key(key.pointer, &out, &length) == 1 else { return [] }
            return Array(out.prefix(length))
        }
    }

    /// The key record to publish at `selector._domainkey.domain`: `v=DKIM1; k=...; p=...`.
    public var keyRecord: DKIMKeyRecord { DKIMKeyRecord(keyType: keyType, publicKey: publicKeyBytes) }

    /// Signs the canonicalized header data (§3.7) with this key's algorithm.
    public func sign(_ data: [UInt8]) throws(DKIMKeyError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw .cryptoFailure("EVP_MD_CTX_new") }
        defer {
            EVP_MD_CTX_free(context)
            ERR_clear_error()
        }
        let message = keyType == .rsa ? data : DKIMSHA256.hash(data)
        let initialized = keyType == .rsa
            ? EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key.pointer)
            : EVP_DigestSignInit(context, nil, nil, nil, key.pointer)
        guard initialized == 1 else { throw .cryptoFailure("EVP_DigestSignInit") }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else {
            throw .cryptoFailure("EVP_DigestSign")
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else {
            throw .cryptoFailure("EVP_DigestSign")
        }
        return Array(signature.prefix(length))
    }

    /// A new key pair: RSA of `rsaBits` (2048 unless told; at least 1024) or Ed25519.
    public static func generate(_ keyType: DKIMKeyType, rsaBits: Int = 2048) throws(DKIMKeyError) -> DKIMPrivateKey {
        let generated: OpaquePointer?
        switch keyType {
        case .rsa:
            guard rsaBits >= 1024 else { throw .keyTooSmall(bits: rsaBits) }
            generated = COpenSSL_generate_rsa_key(rsaBits)
        case .ed25519:
            var key: OpaquePointer?
            if let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) {
                if EVP_PKEY_keygen_init(context) == 1 { _ = EVP_PKEY_keygen(context, &key) }
                EVP_PKEY_CTX_free(context)
            }
            generated = key
        }
        guard let generated else {
            ERR_clear_error()
            throw .cryptoFailure("key generation")
        }
        return try DKIMPrivateKey(owning: DKIMOpenSSLKey(generated))
    }
}
