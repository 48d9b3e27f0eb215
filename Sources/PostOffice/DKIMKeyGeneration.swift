// DKIMKeyGeneration: the library side of `postoffice dkim generate` — makes a key pair (RSA-2048 or
// Ed25519, through OpenSSL), stores the private key as `dkim_key_directory/DOMAIN/SELECTOR.pem` (mode 0600,
// never over an existing key) and gives back the DNS TXT record to publish, in zone-file form.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDKIM

/// A new DKIM key for a domain, written where the server looks for it.
public struct DKIMKeyGeneration: Sendable {
    /// The key algorithm (`--algorithm`).
    public enum Algorithm: String, Sendable, CaseIterable {
        /// RSA 2048 bits, `rsa-sha256`: what every verifier checks.
        case rsa
        /// Ed25519, `ed25519-sha256` ([RFC 8463](https://www.rfc-editor.org/rfc/rfc8463)): small, but not
        /// checked by every verifier yet, so it is meant next to an RSA key.
        case ed25519
    }

    /// Why no key was written.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The file the private key was written to.
    public var keyPath: String
    /// The record's owner name, `SELECTOR._domainkey.DOMAIN.`.
    public var recordName: String
    /// The record's text, `v=DKIM1; k=rsa; p=...`.
    public var recordText: String

    /// The record as one zone-file line, the text split into quoted strings of at most 255 bytes
    /// (RFC 1035 §3.3.14; RFC 6376 §3.6.2.2 joins them back).
    public var zoneLine: String {
        var strings: [String] = []
        var rest = Substring(recordText)
        while !rest.isEmpty {
            strings.append("\"" + rest.prefix(255) + "\"")
            rest = rest.dropFirst(255)
        }
        return "\(recordName) IN TXT \(strings.joined(separator: " "))"
    }

    /// The default selector of each algorithm, so an RSA and an Ed25519 key can sit side by side.
    public static func defaultSelector(for algorithm: Algorithm) -> String { algorithm.rawValue }

    /// Generates a key for `domain` and writes it to `directory/DOMAIN/SELECTOR.pem`.
    /// - Throws: ``Refusal`` for a bad domain or selector, an existing key file, or a write failure.
    public static func generate(
        domain: String, selector: String? = nil, algorithm: Algorithm = .rsa, directory: String
    ) throws(Refusal) -> DKIMKeyGeneration {
        let domain = domain.lowercased().hasSuffix(".") ? String(domain.lowercased().dropLast()) : domain.lowercased()
        let selector = selector ?? defaultSelector(for: algorithm)
        guard DKIMKeyStore.isDNSName(domain), domain.contains(".") || domain == "localhost" else {
            throw Refusal(description: "'\(domain)' is not a domain name: give the domain of your From: addresses, like example.com")
        }
        guard DKIMKeyStore.isDNSName(selector) else {
            throw Refusal(description: "'\(selector)' is not a valid selector: use letters, digits and '-', like 2026a")
        }
        let domainDirectory = directory + "/" + domain
        let path = domainDirectory + "/" + selector + ".pem"
        if FileSystem.fileExists(atPath: path) {
            throw Refusal(description: "\(path) already exists: a key is never overwritten. To add a new key, choose another selector (--selector NAME); to start over, move that file away first")
        }
        let key: DKIMPrivateKey
        do {
            key = try DKIMPrivateKey.generate(algorithm == .rsa ? .rsa : .ed25519)
        } catch {
            throw Refusal(description: "key generation failed: \(error)")
        }
        for folder in [directory, domainDirectory] where !FileSystem.isDirectory(atPath: folder) {
            guard mkdir(folder, 0o700) == 0 || errno == EEXIST else {
                throw Refusal(description: "cannot create \(folder): \(String(cString: strerror(errno)))")
            }
        }
        try write(key.pem, to: path)
        return DKIMKeyGeneration(
            keyPath: path, recordName: "\(selector)._domainkey.\(domain).", recordText: key.keyRecord.serialized)
    }

    /// Writes a new file (mode 0600, refusing an existing one) and makes it durable.
    private static func write(_ text: String, to path: String) throws(Refusal) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Refusal(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        var offset = 0
        var failed = false
        while offset < bytes.count {
            let n = SystemCall.restarting { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) } }
            if n <= 0 {
                failed = true
                break
            }
            offset += n
        }
        if failed || fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(path)
            throw Refusal(description: "cannot write \(path): \(reason)")
        }
        close(fd)
    }
}
