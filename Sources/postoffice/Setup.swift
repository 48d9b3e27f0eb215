// Setup: turns command-line options into a PostOfficeConfiguration (CLI defaults, config file, then flags on
// top), checks the data folder is there, and creates the embedded default on first run: data folder, commented
// config, users, postmaster password, self-signed certificate.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct Setup {
    let options: CommandLineOptions

    var configPath: String { options.configFile ?? options.dataDirectory + "/postoffice.conf" }

    var defaultCertificatePath: String { options.dataDirectory + "/tls/certificate.pem" }
    var defaultPrivateKeyPath: String { options.dataDirectory + "/tls/private-key.pem" }

    /// The CLI's defaults: the library's, with this machine's host name and the self-signed pair in
    /// `tls/` (made on the first `serve`), so the template and `check` show the certificate in use.
    func defaults() -> PostOfficeConfiguration {
        var configuration = PostOfficeConfiguration(hostname: Self.defaultHostname(), dataDirectory: options.dataDirectory)
        configuration.tls = TLSConfiguration(certificateChainPath: defaultCertificatePath, privateKeyPath: defaultPrivateKeyPath)
        // The embedded default serves submission too (RFC 6409), on a port that needs no root.
        configuration.submissionListeners = [SocketAddress(host: "127.0.0.1", port: 1587)]
        // A mail server sends mail, as Postfix does out of the box: logged-in users and relay_networks reach
        // other domains through the queue. The library keeps it off; its embedders opt in.
        configuration.deliversOutbound = true
        return configuration
    }

    /// The effective configuration: defaults, then the config file (if present), then flags.
    ///
    /// `forServing`: the default certificate is made by ``prepareDataDirectory(_:)`` when missing. Otherwise a
    /// missing default certificate means TLS is off for now (as it is until the first `serve`).
    func configuration(forServing: Bool = false) throws -> PostOfficeConfiguration {
        var configuration = defaults()
        if options.configFile != nil || FileSystem.fileExists(atPath: configPath) {
            guard let text = try? DataFile.read(configPath) else {
                throw ConfigurationProblem("cannot read the config file \(configPath): check it exists and is readable, or leave out --config")
            }
            configuration = try ConfigurationFile.parse(text, fileName: configPath, base: configuration)
        }
        if !options.smtpListeners.isEmpty { configuration.smtpListeners = options.smtpListeners }
        if !options.pop3Listeners.isEmpty { configuration.pop3Listeners = options.pop3Listeners }
        if !options.submissionListeners.isEmpty { configuration.submissionListeners = options.submissionListeners }
        if !options.metricsListeners.isEmpty { configuration.metricsListeners = options.metricsListeners }
        if let hostname = options.hostname { configuration.hostname = hostname }
        for domain in options.domains where !configuration.domains.contains(domain) {
            configuration.domains.append(domain)
        }
        if !configuration.domains.contains("localhost") { configuration.domains.append("localhost") }
        if !forServing, usesMissingDefaultCertificate(configuration) {
            configuration.tls = nil
            if !(configuration.smtpsListeners.isEmpty && configuration.pop3sListeners.isEmpty) {
                throw ConfigurationProblem(
                    "smtps_listen and pop3s_listen need TLS, but \(defaultCertificatePath) does not exist yet: "
                        + "the first `postoffice serve` makes it, or set tls_certificate and tls_private_key")
            }
        }
        return configuration
    }

    /// True when TLS is the default self-signed pair and it has not been made yet.
    func usesMissingDefaultCertificate(_ configuration: PostOfficeConfiguration) -> Bool {
        guard let tls = configuration.tls, tls.certificateChainPath == defaultCertificatePath,
            tls.privateKeyPath == defaultPrivateKeyPath
        else { return false }
        return !(FileSystem.fileExists(atPath: defaultCertificatePath) && FileSystem.fileExists(atPath: defaultPrivateKeyPath))
    }

    /// Refuses to go on without a data folder (a mistyped --data, or a command run from another directory),
    /// instead of acting on an empty set of users.
    func requireDataDirectory() throws {
        let folder = options.dataDirectory
        guard FileSystem.isDirectory(atPath: folder) else {
            throw ConfigurationProblem(
                "no data folder at \(folder)\(Self.workingDirectoryNote(folder)): pass --data DIR, or run `postoffice serve --data \(folder)` once to create it")
        }
        guard access(folder, R_OK | X_OK) == 0 else {
            throw ConfigurationProblem(
                "cannot read the data folder \(folder): \(String(cString: strerror(errno))) (run as its owner, or fix its permissions)")
        }
    }

    /// " (in /current/dir)" for a relative path, so "no data folder at ./postoffice-data" says where it looked.
    static func workingDirectoryNote(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return "" }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "" }
        return " (in " + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ")"
    }

    /// What the first start made.
    struct Prepared {
        /// The generated postmaster password when the users file was made (to be printed once).
        var generatedPassword: String?
        /// Folders and files made now, so they can be given to run_as_user.
        var created: [String] = []
    }

    /// Creates the data folder, config file, users and aliases files and the default certificate when missing.
    func prepareDataDirectory(_ configuration: inout PostOfficeConfiguration) throws -> Prepared {
        var prepared = Prepared()
        func makeDirectory(_ path: String) throws {
            guard !FileSystem.isDirectory(atPath: path) else { return }
            // Parents first, so each folder made now is recorded.
            if let slash = path.lastIndex(of: "/"), slash != path.startIndex { try makeDirectory(String(path[..<slash])) }
            try FileSystem.createDirectory(atPath: path, mode: 0o700)
            prepared.created.append(path)
        }
        try makeDirectory(configuration.dataDirectory)
        try makeDirectory(configuration.mailRoot)
        if usesMissingDefaultCertificate(configuration) {
            // TLS out of the box: a self-signed certificate for our host name, made once.
            try makeDirectory(options.dataDirectory + "/tls")
            try TLSConfiguration.createSelfSignedCertificateIfMissing(
                hostName: configuration.hostname, certificatePath: defaultCertificatePath, privateKeyPath: defaultPrivateKeyPath)
            prepared.created += [defaultCertificatePath, defaultPrivateKeyPath]
        }
        if options.configFile == nil && !FileSystem.fileExists(atPath: configPath) {
            try DataFile.replace(configPath, with: ConfigurationFile.template(for: defaults()), mode: 0o644)
            prepared.created.append(configPath)
        }
        if !FileSystem.fileExists(atPath: configuration.aliasesFile) {
            let text = """
                # Aliases: ALIAS TARGET[, TARGET...]   (Postfix virtual(5) style; @domain is a catch-all)
                # postmaster@example.test  alice@example.test

                """
            try DataFile.replace(configuration.aliasesFile, with: text, mode: 0o600)
            prepared.created.append(configuration.aliasesFile)
        }
        if !FileSystem.fileExists(atPath: configuration.usersFile) {
            let password = Self.generatePassword()
            let hash = try AccountAdministration.passwordHash(for: password)
            let text = """
                # Users: ADDRESS:{SCHEME}HASH   (Dovecot passwd-file; `postoffice user add` edits it)
                postmaster@localhost:\(hash)

                """
            try DataFile.replace(configuration.usersFile, with: text, mode: 0o600)
            prepared.created.append(configuration.usersFile)
            prepared.generatedPassword = password
        }
        return prepared
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
