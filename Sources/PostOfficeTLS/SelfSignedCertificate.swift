// SelfSignedCertificate: makes a key and a self-signed X.509 certificate for one host name, so an embedded
// server can offer STARTTLS out of the box on first run. Time and serial-number randomness are injected.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import COpenSSL
import PostOfficeCore

/// A freshly generated private key and self-signed certificate, as PEM text.
///
/// The certificate is X.509 v3 ([RFC 5280 §4.1](https://www.rfc-editor.org/rfc/rfc5280#section-4.1)) with the
/// host name as subject common name and as its only subjectAltName
/// ([RFC 5280 §4.2.1.6](https://www.rfc-editor.org/rfc/rfc5280#section-4.2.1.6)), which is what clients match
/// ([RFC 6125 §6.4](https://www.rfc-editor.org/rfc/rfc6125#section-6.4)). Clients will not trust it unless told
/// to; it exists so TLS works before an operator installs a real certificate.
public struct SelfSignedCertificate: Hashable, Sendable {
    /// The kind of key to generate.
    public enum KeyType: Hashable, Sendable, CaseIterable {
        /// RSA with a 2048-bit modulus: the most widely accepted.
        case rsa2048
        /// ECDSA on NIST P-256: smaller and much cheaper to handshake with.
        case ecdsaP256
    }

    /// The host name (or IP address) the certificate names.
    public let hostName: String
    /// The certificate, PEM encoded (`-----BEGIN CERTIFICATE-----`).
    public let certificatePEM: String
    /// The unencrypted PKCS#8 private key, PEM encoded (`-----BEGIN PRIVATE KEY-----`).
    public let privateKeyPEM: String

    /// Generates a key and a certificate for `hostName`, valid from an hour before `clock.now()` (to allow for
    /// clock skew) for `validityDays` days.
    ///
    /// - Parameters:
    ///   - hostName: A DNS name (letters, digits, hyphens and dots; a leading `*.` is allowed) or an IPv4 or
    ///     IPv6 address.
    ///   - random: The source of the 127-bit serial number
    ///     ([RFC 5280 §4.1.2.2](https://www.rfc-editor.org/rfc/rfc5280#section-4.1.2.2)).
    /// - Throws: ``TLSError`` of kind ``TLSError/Kind/invalidConfiguration`` for an unusable host name or
    ///   validity, ``TLSError/Kind/keyGeneration`` when OpenSSL fails.
    public static func generate(
        hostName: String,
        keyType: KeyType = .ecdsaP256,
        validityDays: Int = 3650,
        clock: some MailClock,
        random: some RandomSource
    ) throws(TLSError) -> SelfSignedCertificate {
        guard let alternativeName = subjectAlternativeName(for: hostName) else {
            throw TLSError(
                .invalidConfiguration, operation: "SelfSignedCertificate.generate",
                messages: ["host name \"\(hostName)\" is neither a DNS name nor an IP address"]
            )
        }
        guard (1...36_500).contains(validityDays) else {
            throw TLSError(
                .invalidConfiguration, operation: "SelfSignedCertificate.generate",
                messages: ["validity of \(validityDays) days is outside 1...36500"]
            )
        }
        OpenSSLErrorQueue.clear()
        let generatedKey =
            switch keyType {
            case .rsa2048: COpenSSL_generate_rsa_key(2048)
            case .ecdsaP256: COpenSSL_generate_ec_key("P-256")
            }
        guard let key = generatedKey else {
            throw OpenSSLErrorQueue.error(.keyGeneration, operation: "EVP_PKEY_Q_keygen")
        }
        defer { EVP_PKEY_free(key) }
        guard let certificate = X509_new() else {
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "X509_new")
        }
        defer { X509_free(certificate) }

        try check(X509_set_version(certificate, 2), "X509_set_version")  // 2 means v3.
        try setSerialNumber(certificate, random: random)
        let now = clock.now().seconds
        try check(
            ASN1_TIME_set(X509_getm_notBefore(certificate), time_t(now - 3600)) != nil ? 1 : 0, "ASN1_TIME_set"
        )
        try check(
            ASN1_TIME_set(X509_getm_notAfter(certificate), time_t(now + validityDays * 86_400)) != nil ? 1 : 0,
            "ASN1_TIME_set"
        )
        try check(X509_set_pubkey(certificate, key), "X509_set_pubkey")

        guard let name = X509_get_subject_name(certificate) else {
            throw OpenSSLErrorQueue.error(.keyGeneration, operation: "X509_get_subject_name")
        }
        // ub-common-name is 64 characters (RFC 5280 appendix A.1); the subjectAltName carries the full name.
        let commonName = hostName.utf8.count <= 64 ? hostName : "PostOffice"
        try check(
            X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, "PostOffice (self-signed)", -1, -1, 0),
            "X509_NAME_add_entry_by_txt"
        )
        try check(
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0),
            "X509_NAME_add_entry_by_txt"
        )
        try check(X509_set_issuer_name(certificate, name), "X509_set_issuer_name")

        let keyUsage =
            switch keyType {
            case .rsa2048: "critical,digitalSignature,keyEncipherment"
            case .ecdsaP256: "critical,digitalSignature"
            }
        let extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, keyUsage),
            (NID_ext_key_usage, "serverAuth"),
            (NID_subject_key_identifier, "hash"),
            (NID_subject_alt_name, alternativeName),
        ]
        for (identifier, value) in extensions {
            try check(COpenSSL_X509_add_extension(certificate, identifier, value), "X509V3_EXT_conf_nid")
        }
        guard X509_sign(certificate, key, EVP_sha256()) > 0 else {
            throw OpenSSLErrorQueue.error(.keyGeneration, operation: "X509_sign")
        }

        let certificatePEM = try pem("PEM_write_bio_X509") { PEM_write_bio_X509($0, certificate) }
        let privateKeyPEM = try pem("PEM_write_bio_PrivateKey") {
            PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil)
        }
        OpenSSLErrorQueue.clear()
        return SelfSignedCertificate(
            hostName: hostName, certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM
        )
    }

    /// Writes the certificate (mode 0644) and the key (mode 0600) atomically: each goes to a new temporary
    /// file in the same directory, is synced, then renamed over the destination.
    public func write(certificatePath: String, privateKeyPath: String) throws(TLSError) {
        try Self.writeAtomically(Array(privateKeyPEM.utf8), to: privateKeyPath, mode: 0o600)
        try Self.writeAtomically(Array(certificatePEM.utf8), to: certificatePath, mode: 0o644)
    }

    /// First-run helper: generates and writes a certificate and key when neither file exists.
    ///
    /// - Returns: `true` if it created them, `false` if both already existed.
    /// - Throws: ``TLSError`` of kind ``TLSError/Kind/invalidConfiguration`` when only one of the two exists
    ///   (an operator's file is never overwritten), or any error of
    ///   ``generate(hostName:keyType:validityDays:clock:random:)``
    ///   and ``write(certificatePath:privateKeyPath:)``.
    @discardableResult
    public static func createIfMissing(
        hostName: String,
        keyType: KeyType = .ecdsaP256,
        certificatePath: String,
        privateKeyPath: String,
        clock: some MailClock,
        random: some RandomSource
    ) throws(TLSError) -> Bool {
        let certificateExists = access(certificatePath, F_OK) == 0
        let keyExists = access(privateKeyPath, F_OK) == 0
        if certificateExists && keyExists { return false }
        if certificateExists || keyExists {
            let present = certificateExists ? certificatePath : privateKeyPath
            let missing = certificateExists ? privateKeyPath : certificatePath
            throw TLSError(
                .invalidConfiguration, operation: "SelfSignedCertificate.createIfMissing",
                messages: ["\(present) exists but \(missing) does not; refusing to replace either"]
            )
        }
        let generated = try generate(hostName: hostName, keyType: keyType, clock: clock, random: random)
        try generated.write(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        return true
    }

    // MARK: Building blocks

    /// The subjectAltName value in OpenSSL's configuration syntax, or `nil` for a name that is neither an
    /// IP address nor a DNS name; the check also keeps commas and colons from smuggling in more names.
    static func subjectAlternativeName(for hostName: String) -> String? {
        var address = in6_addr()
        if inet_pton(AF_INET, hostName, &address) == 1 || inet_pton(AF_INET6, hostName, &address) == 1 {
            return "IP:" + hostName
        }
        let bytes = Array(hostName.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return nil }
        var labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.count > 1, labels[0].elementsEqual("*".utf8) { labels.removeFirst() }
        for label in labels {
            guard !label.isEmpty, label.count <= 63, label.first != UInt8(ascii: "-"),
                label.last != UInt8(ascii: "-")
            else { return nil }
            let allowed = label.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
            }
            guard allowed else { return nil }
        }
        return "DNS:" + hostName
    }

    private static func check(_ status: Int32, _ operation: String) throws(TLSError) {
        guard status > 0 else { throw OpenSSLErrorQueue.error(.keyGeneration, operation: operation) }
    }

    /// A positive, non-zero serial of 16 bytes with the top bit clear, as RFC 5280 allows at most 20 octets.
    private static func setSerialNumber(_ certificate: OpaquePointer, random: some RandomSource) throws(TLSError) {
        var bytes: [UInt8] = []
        for _ in 0..<2 {
            let value = random.next()
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: value >> shift))
            }
        }
        bytes[0] &= 0x7F
        if bytes.allSatisfy({ $0 == 0 }) { bytes[15] = 1 }
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "BN_bin2bn")
        }
        defer { BN_free(number) }
        guard let serial = BN_to_ASN1_INTEGER(number, nil) else {
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "BN_to_ASN1_INTEGER")
        }
        defer { ASN1_INTEGER_free(serial) }
        try check(X509_set_serialNumber(certificate, serial), "X509_set_serialNumber")
    }

    /// Runs a `PEM_write_bio_*` call into a memory BIO and returns the text.
    private static func pem(_ operation: String, _ body: (OpaquePointer) -> Int32) throws(TLSError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw OpenSSLErrorQueue.error(.resourceExhausted, operation: "BIO_new")
        }
        defer { BIO_free(bio) }
        guard body(bio) == 1 else { throw OpenSSLErrorQueue.error(.keyGeneration, operation: operation) }
        var data: UnsafeMutablePointer<CChar>?
        let length = COpenSSL_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { throw OpenSSLErrorQueue.error(.keyGeneration, operation: operation) }
        let bytes = UnsafeRawBufferPointer(start: data, count: Int(length))
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(TLSError) {
        let temporaryPath = path + ".tmp-\(getpid())"
        func fail(_ call: String, _ code: Int32) -> TLSError {
            TLSError(.fileSystem, operation: call, messages: ["\(call) \(temporaryPath)"], systemErrno: code)
        }
        // The temporary name is this process's own; one left by a crashed earlier run with the same pid goes.
        unlink(temporaryPath)
        let descriptor: Int32
        do {
            descriptor = try SystemCall.retrying("open") {
                open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            }
        } catch {
            throw fail("open", error.errno)
        }
        var offset = 0
        var failure: TLSError?
        while offset < bytes.count, failure == nil {
            do {
                let written = try SystemCall.retrying("write") {
                    bytes.withUnsafeBytes { raw in
                        systemWrite(descriptor, UnsafeRawBufferPointer(rebasing: raw[offset...]))
                    }
                }
                offset += written
            } catch {
                failure = fail("write", error.errno)
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = fail("fsync", errno) }
        if close(descriptor) != 0, failure == nil { failure = fail("close", errno) }
        if failure == nil, rename(temporaryPath, path) != 0 { failure = fail("rename", errno) }
        if let failure {
            unlink(temporaryPath)
            throw failure
        }
    }

    /// `write(2)`; named apart from ``write(certificatePath:privateKeyPath:)``.
    private static func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) -> Int {
        #if canImport(Glibc)
        Glibc.write(descriptor, buffer.baseAddress, buffer.count)
        #else
        Darwin.write(descriptor, buffer.baseAddress, buffer.count)
        #endif
    }

    private init(hostName: String, certificatePEM: String, privateKeyPEM: String) {
        self.hostName = hostName
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }
}
