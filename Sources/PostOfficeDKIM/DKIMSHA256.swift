// DKIMSHA256: incremental SHA-256 through OpenSSL's EVP digest API, with value semantics (a copy that is
// then updated duplicates the OpenSSL context first), so engines holding one stay plain structs.

import COpenSSL

/// A running SHA-256 computation (FIPS 180-4), as DKIM's `bh=` and `b=` need.
public struct DKIMSHA256: Sendable {
    private final class Context: @unchecked Sendable {
        // Owned exclusively: only reached through a uniquely referenced box or copied first.
        let pointer: OpaquePointer

        init() {
            guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
            pointer = context
            EVP_DigestInit_ex(pointer, DKIMSHA256.digest, nil)
        }

        init(copying other: Context) {
            guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
            pointer = context
            EVP_MD_CTX_copy_ex(pointer, other.pointer)
        }

        deinit { EVP_MD_CTX_free(pointer) }
    }

    private var context = Context()

    /// SHA-256 fetched from OpenSSL's default provider once: `EVP_sha256()` is looked up again on every
    /// initialisation (OpenSSL 3's implicit fetch), which cost more than hashing a short header.
    nonisolated(unsafe) static let digest: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()

    public init() {}

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
        EVP_DigestUpdate(context.pointer, bytes.baseAddress, bytes.count)
    }

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest of everything added; the running state is left as it was.
    public func finalize() -> [UInt8] {
        let copy = Context(copying: context)
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(copy.pointer, &digest, &length)
        return Array(digest.prefix(Int(length)))
    }

    /// The 32-byte digest, finishing this computation in place (no copy of the running state, unlike
    /// ``finalize()``); the value must not be updated or finalized again afterwards.
    mutating func finalizeConsuming() -> [UInt8] {
        if !isKnownUniquelyReferenced(&context) { return finalize() }
        var length: UInt32 = 0
        let digest = [UInt8](unsafeUninitializedCapacity: 64) { buffer, count in
            EVP_DigestFinal_ex(context.pointer, buffer.baseAddress, &length)
            count = Int(length)
        }
        return digest
    }

    /// The SHA-256 digest of `bytes`.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        if let array = bytes as? [UInt8] { return hash(array) }
        var hasher = DKIMSHA256()
        hasher.update(bytes)
        return hasher.finalizeConsuming()
    }

    /// The SHA-256 digest of `bytes`, in one call (no copy of the bytes or of a digest context).
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var length: UInt32 = 0
        return [UInt8](unsafeUninitializedCapacity: 64) { buffer, count in
            let done = bytes.withUnsafeBytes { input in
                EVP_Digest(input.baseAddress, input.count, buffer.baseAddress, &length, digest, nil)
            }
            count = done == 1 ? Int(length) : 0
        }
    }
}
