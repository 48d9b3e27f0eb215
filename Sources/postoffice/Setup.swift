// Setup: turns command-line options into a PostOfficeConfiguration (config file, then flags on top), and
// creates the embedded default on first run: data folder, commented config, users, postmaster password.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice
import PostOfficeAccounts
import PostOfficeTLS

struct Setup {
    let options: CommandLineOptions

    var configPath: String { options.configFile ?? options.dataDirectory + "/postoffice.conf" }

    /// The effective configuration: defaults, then the config file (if present), then flags.
    func configuration() throws -> PostOfficeConfiguration {
        var configuration = PostOfficeConfiguration(hostname: Self.defaultHostname(), dataDirectory: options.dataDirectory)
        if options.configFile != nil || FileSystem.fileExists(atPath: configPath) {
            guard let text = try? AccountsFile.read(configPath) else {
                throw UsageError("cannot read config file \(configPath)")
            }
            configuration = try ConfigurationFile.parse(text, fileName: configPath, base: configuration)
        }
        if !options.smtpListeners.isEmpty { configuration.smtpListeners = options.smtpListeners }
        if !options.pop3Listeners.isEmpty { configuration.pop3Listeners = options.pop3Listeners }
        if let hostname = options.hostname { configuration.hostname = hostname }
        for domain in options.domains where !configuration.domains.contains(domain) {
            configuration.domains.append(domain)
        }
        if !configuration.domains.contains("localhost") { configuration.domains.append("localhost") }
        // Without tls_* keys, the self-signed pair made on first run (if it is there) is used.
        if configuration.tls == nil, FileSystem.fileExists(atPath: defaultCertificatePath),
            FileSystem.fileExists(atPath: defaultPrivateKeyPath)
        {
            configuration.tls = TLSConfiguration(certificateChainPath: defaultCertificatePath, privateKeyPath: defaultPrivateKeyPath)
        }
        return configuration
    }

    var defaultCertificatePath: String { options.dataDirectory + "/tls/certificate.pem" }
    var defaultPrivateKeyPath: String { options.dataDirectory + "/tls/private-key.pem" }

    /// Creates the data folder, config file, users and aliases files when missing. Returns the generated
    /// postmaster password when it made the users file (to be printed once).
    func prepareDataDirectory(_ configuration: inout PostOfficeConfiguration) throws -> String? {
        if configuration.tls == nil {
            // TLS out of the box: a self-signed certificate for our host name, made once.
            try FileSystem.createDirectory(atPath: options.dataDirectory + "/tls", mode: 0o700)
            _ = try SelfSignedCertificate.createIfMissing(
                hostName: configuration.hostname, certificatePath: defaultCertificatePath,
                privateKeyPath: defaultPrivateKeyPath, clock: SystemClock(), random: SystemRandomSource())
            configuration.tls = TLSConfiguration(certificateChainPath: defaultCertificatePath, privateKeyPath: defaultPrivateKeyPath)
        }
        try FileSystem.createDirectory(atPath: configuration.dataDirectory, mode: 0o700)
        try FileSystem.createDirectory(atPath: configuration.mailRoot, mode: 0o700)
        if options.configFile == nil && !FileSystem.fileExists(atPath: configPath) {
            let defaults = PostOfficeConfiguration(hostname: Self.defaultHostname(), dataDirectory: options.dataDirectory)
            try AccountsFile.replace(configPath, with: ConfigurationFile.template(for: defaults), mode: 0o644)
        }
        if !FileSystem.fileExists(atPath: configuration.aliasesFile) {
            let text = """
                # Aliases: ALIAS TARGET[, TARGET...]   (Postfix virtual(5) style)
                # postmaster@example.test  alice@example.test

                """
            try AccountsFile.replace(configuration.aliasesFile, with: text, mode: 0o600)
        }
        var generated: String?
        if !FileSystem.fileExists(atPath: configuration.usersFile) {
            let password = Self.generatePassword()
            let hash = try PasswordHash.generate(password: password, random: SystemRandomSource())
            let text = """
                # Users: ADDRESS:{SCHEME}HASH   (Dovecot passwd-file; `postoffice user add` edits it)
                postmaster@localhost:\(hash.storedForm)

                """
            try AccountsFile.replace(configuration.usersFile, with: text, mode: 0o600)
            generated = password
        }
        return generated
    }

    static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        let random = SystemRandomSource()
        return String((0..<16).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }

    static func defaultHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}
