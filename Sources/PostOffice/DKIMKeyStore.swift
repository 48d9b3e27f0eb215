// DKIMKeyStore: the DKIM signing keys of `dkim_key_directory` — one unencrypted PEM private key per domain
// and selector, `DIRECTORY/DOMAIN/SELECTOR.pem` — loaded at start and replaced on reload, and the signer
// that puts DKIM-Signature fields on mail we send whose From: domain has keys (exact match, no parents).

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeAccounts
import PostOfficeCore
import PostOfficeDKIM
import PostOfficeDelivery

/// The signing keys by domain, and the ``OutgoingMessageSigner`` built on them. Thread-safe.
final class DKIMKeyStore: OutgoingMessageSigner, @unchecked Sendable {
    private let lock = Lock()
    private var keysByDomain: [String: [DKIMSigningKey]]
    private let clock: any MailClock
    private let logSink: any LogSink

    init(keys: [String: [DKIMSigningKey]] = [:], clock: any MailClock, logSink: any LogSink) {
        keysByDomain = keys
        self.clock = clock
        self.logSink = logSink
    }

    /// The keys for `domain` (lower-cased exact match: `sub.example.com` does not use `example.com`'s keys).
    func keys(for domain: String) -> [DKIMSigningKey] {
        lock.withLock { keysByDomain[domain.lowercased()] ?? [] }
    }

    /// Every domain that has keys, sorted.
    var domains: [String] { lock.withLock { keysByDomain.keys.sorted() } }

    /// Replaces the keys (a reload).
    func replace(_ keys: [String: [DKIMSigningKey]]) {
        lock.withLock { keysByDomain = keys }
    }

    /// Most keys one domain may have: each is one more signature on every message.
    static let maximumKeysPerDomain = 4

    /// Reads `directory`: each subfolder is a domain, each `SELECTOR.pem` in it a key (other files are
    /// ignored). A missing directory means no keys. Throws for a key that does not load, so a typo is
    /// found at start (or the reload is refused and the old keys stay) rather than mail going unsigned.
    static func load(directory: String) throws(ConfigurationError) -> [String: [DKIMSigningKey]] {
        func failure(_ path: String, _ message: String) -> ConfigurationError {
            ConfigurationError(file: path, line: 0, message: "dkim_key_directory: \(message)")
        }
        guard FileSystem.isDirectory(atPath: directory) else { return [:] }
        var result: [String: [DKIMSigningKey]] = [:]
        for domainName in try names(in: directory) {
            let domainPath = directory + "/" + domainName
            guard FileSystem.isDirectory(atPath: domainPath), !domainName.hasPrefix(".") else { continue }
            let domain = domainName.lowercased()
            guard isDNSName(domain) else {
                throw failure(domainPath, "'\(domainName)' is not a domain name; name the folder after the From: domain, like example.com")
            }
            var keys: [DKIMSigningKey] = []
            for fileName in try names(in: domainPath).sorted() where fileName.hasSuffix(".pem") && !fileName.hasPrefix(".") {
                let path = domainPath + "/" + fileName
                let selector = String(fileName.dropLast(4))
                guard isDNSName(selector) else {
                    throw failure(path, "'\(selector)' is not a valid selector (letters, digits, '-', '_', '.'); rename the file")
                }
                let text: String
                do {
                    guard let read = try AccountsFile.read(path) else { continue }
                    text = read
                } catch {
                    throw failure(path, "cannot read the key: \(error)")
                }
                do {
                    keys.append(DKIMSigningKey(privateKey: try DKIMPrivateKey(pem: text), domain: domain, selector: selector))
                } catch {
                    throw failure(path, "not a usable private key (\(error)): it must be an unencrypted PEM RSA (≥ 1024 bits) or Ed25519 key, as `postoffice dkim generate` writes")
                }
            }
            guard !keys.isEmpty else { continue }
            guard keys.count <= maximumKeysPerDomain else {
                throw failure(domainPath, "\(keys.count) keys for \(domain), at most \(maximumKeysPerDomain); move retired keys out of the folder")
            }
            result[domain] = keys
        }
        return result
    }

    /// The entry names of a directory (without `.` and `..`).
    private static func names(in path: String) throws(ConfigurationError) -> [String] {
        guard let directory = opendir(path) else {
            throw ConfigurationError(file: path, line: 0, message: "dkim_key_directory: cannot list: \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Letters, digits, `-` and `_` in dot-separated labels of 1–63 bytes.
    static func isDNSName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F
            }
        }
    }

    // MARK: - Signing

    func beginSignature(header: [UInt8]) -> (any OutgoingSignature)? {
        guard let domain = Self.fromDomain(header) else { return nil }
        let keys = keys(for: domain)
        guard !keys.isEmpty else { return nil }
        let signature = DKIMOutgoingSignature(
            signer: DKIMSigner(keys: keys, time: clock.now().seconds), domain: domain, logSink: logSink)
        signature.update(header)
        return signature
    }

    /// The domain of the first address in the first From: field of a header block, lower-cased.
    static func fromDomain(_ header: [UInt8]) -> String? {
        let fields = DKIMHeaderField.fields(of: header)
        guard let from = fields.first(where: { $0.lowercasedName == "from" }) else { return nil }
        let value = String(decoding: from.value, as: UTF8.self)
        guard let address = AddressListParser.parse(value, defaultDomain: "").addresses.first else { return nil }
        let domain = address.domain.lowercased()
        return domain.isEmpty ? nil : domain
    }
}

/// One message being signed with the keys of its From: domain.
final class DKIMOutgoingSignature: OutgoingSignature {
    private var signer: DKIMSigner
    private let domain: String
    private let logSink: any LogSink

    init(signer: DKIMSigner, domain: String, logSink: any LogSink) {
        self.signer = signer
        self.domain = domain
        self.logSink = logSink
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        signer.receive(bytes)
    }

    func finish() -> [UInt8] {
        do {
            return Array(try signer.finish().joined().utf8)
        } catch {
            // Unsigned mail may land in spam, but refusing it would lose it: send it and say why.
            logSink.log(LogRecord(.warning, "dkim.sign_failed", [
                ("domain", domain), ("error", "\(error)"), ("hint", "the message was sent unsigned"),
            ]))
            return []
        }
    }
}
