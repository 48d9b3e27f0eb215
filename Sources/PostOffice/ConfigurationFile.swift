// ConfigurationFile: reads the `key = value` config file (Postfix main.cf style) into a PostOfficeConfiguration,
// and renders the effective settings back (`postoffice check`). Unknown keys and bad values name file and line.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeAccounts
import PostOfficeCore
import PostOfficeDNS
import PostOfficeTLS

/// A problem in a configuration file, with its location.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// The configuration file format: one `key = value` per line, `#` starts a comment, blank lines are ignored,
/// and a line starting with white space continues the previous value (as in Postfix's `main.cf`).
/// Lists are separated by commas or white space (domains by commas only). Relative paths are relative to the
/// data directory, and are shown relative to it, so every rendered line parses back to the same setting.
public enum ConfigurationFile {
    /// One setting: its key, what it means, and how to read and show it.
    struct Key: Sendable {
        let name: String
        let help: String
        let apply: @Sendable (inout PostOfficeConfiguration, String) throws(KeyError) -> Void
        let render: @Sendable (PostOfficeConfiguration) -> String
    }

    struct KeyError: Error { let message: String }

    /// Parses `text` on top of `base`. Throws the first problem found.
    public static func parse(
        _ text: String, fileName: String, base: PostOfficeConfiguration
    ) throws(ConfigurationError) -> PostOfficeConfiguration {
        var configuration = base
        var seen: [String: Int] = [:]
        var logical: [(line: Int, text: String)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if line.first == " " || line.first == "\t" {
                guard !logical.isEmpty else {
                    throw ConfigurationError(file: fileName, line: index + 1, message: "continuation line with nothing to continue")
                }
                logical[logical.count - 1].text += " " + line.trimmed
            } else {
                logical.append((index + 1, line))
            }
        }
        let table = Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0) })
        for (number, line) in logical {
            guard let eq = line.firstIndex(of: "=") else {
                throw ConfigurationError(file: fileName, line: number, message: "expected 'key = value'")
            }
            var name = String(line[..<eq]).trimmed
            if let current = renamedKeys[name] {
                // An old name still works; the server logs that it has a new one.
                configuration.deprecatedKeys.append("\(fileName):\(number): '\(name)' is now '\(current)'")
                name = current
            }
            let value = String(line[line.index(after: eq)...]).trimmed
            guard let key = table[name] else {
                throw ConfigurationError(file: fileName, line: number, message: "unknown key '\(name)'")
            }
            if let first = seen[name] {
                throw ConfigurationError(file: fileName, line: number, message: "'\(name)' is set twice (first on line \(first)): keep one")
            }
            seen[name] = number
            do {
                try key.apply(&configuration, value)
            } catch {
                throw ConfigurationError(file: fileName, line: number, message: "\(name): \(error.message)")
            }
        }
        try checkTLS(&configuration, base: base, seen: seen, fileName: fileName)
        return configuration
    }

    /// TLS after the whole file: an empty `tls_certificate` or `tls_private_key` turns TLS off (the other
    /// `tls_*` keys then do nothing); otherwise certificate and key come as a pair — changing one of the
    /// pair in `base` alone would pair a certificate with a key that is not its own.
    static func checkTLS(
        _ configuration: inout PostOfficeConfiguration, base: PostOfficeConfiguration, seen: [String: Int], fileName: String
    ) throws(ConfigurationError) {
        let turnedOff = configuration.tlsTurnedOff
        configuration.tlsTurnedOff = false
        if turnedOff { configuration.tls = nil }
        if let tls = configuration.tls {
            let certificateLine = seen["tls_certificate"]
            let keyLine = seen["tls_private_key"]
            if tls.certificateChainPath.isEmpty || tls.privateKeyPath.isEmpty {
                let missing = tls.certificateChainPath.isEmpty ? "tls_certificate" : "tls_private_key"
                throw ConfigurationError(
                    file: fileName, line: certificateLine ?? keyLine ?? 0,
                    message: "\(missing) is not set: set tls_certificate and tls_private_key together (or both empty for no TLS)")
            }
            if (certificateLine == nil) != (keyLine == nil), let old = base.tls {
                let changed = certificateLine != nil
                    ? tls.certificateChainPath != old.certificateChainPath : tls.privateKeyPath != old.privateKeyPath
                if changed {
                    let (set, other) = certificateLine != nil ? ("tls_certificate", "tls_private_key") : ("tls_private_key", "tls_certificate")
                    throw ConfigurationError(
                        file: fileName, line: certificateLine ?? keyLine ?? 0,
                        message: "\(set) is changed but \(other) is not: set both, so the key belongs to the certificate")
                }
            }
        }
        if configuration.tls == nil && !(configuration.smtpsListeners.isEmpty && configuration.pop3sListeners.isEmpty) {
            let line = seen["submissions_listen"] ?? seen["pop3s_listen"] ?? 0
            throw ConfigurationError(
                file: fileName, line: line,
                message: "submissions_listen and pop3s_listen need TLS, which is off: set tls_certificate and tls_private_key, or leave them out for the default certificate")
        }
    }

    /// The effective settings, one `key = value` line each, in the order of the reference.
    public static func render(_ configuration: PostOfficeConfiguration) -> [String] {
        keys.map { "\($0.name) = \($0.render(configuration))" }
    }

    /// A commented config file showing every key with its value in `configuration`, for a new data folder.
    /// Uncommenting any one line leaves the configuration as it is; paths are shown relative to the data folder.
    public static func template(for configuration: PostOfficeConfiguration) -> String {
        var out = "# PostOffice configuration. Format: key = value; '#' starts a comment.\n"
        out += "# Every key is shown with the value in effect; uncomment and change what you need.\n"
        out += "# Relative paths are inside the data folder. `postoffice check` prints the effective settings.\n\n"
        for key in keys {
            out += "# \(key.help)\n#\(key.name) = \(key.render(configuration))\n\n"
        }
        return out
    }

    // MARK: - The keys

    static let keys: [Key] = [
        Key(name: "hostname", help: "Our host name, used in greetings, Received: headers and Maildir file names.",
            apply: { c, v throws(KeyError) in c.hostname = try hostName(v) }, render: { $0.hostname }),
        Key(name: "domains", help: "Domains we accept mail for (comma separated). Others are refused as relaying.",
            apply: { c, v throws(KeyError) in c.domains = try domainList(v) },
            render: { $0.domains.joined(separator: ", ") }),
        Key(name: "smtp_listen", help: "SMTP listeners, host:port (comma separated; [::1]:25 for IPv6; port 0 picks one).",
            apply: { c, v throws(KeyError) in c.smtpListeners = try addresses(v) },
            render: { $0.smtpListeners.map(\.description).joined(separator: ", ") }),
        Key(name: "pop3_listen", help: "POP3 listeners, host:port (comma separated).",
            apply: { c, v throws(KeyError) in c.pop3Listeners = try addresses(v) },
            render: { $0.pop3Listeners.map(\.description).joined(separator: ", ") }),
        Key(name: "submission_listen", help: "Submission listeners (RFC 6409, like port 587): STARTTLS, AUTH required, then any domain.",
            apply: { c, v throws(KeyError) in c.submissionListeners = try addresses(v) },
            render: { $0.submissionListeners.map(\.description).joined(separator: ", ") }),
        Key(name: "submissions_listen", help: "Submission listeners with implicit TLS (RFC 8314, like port 465); the old name is smtps_listen.",
            apply: { c, v throws(KeyError) in c.smtpsListeners = try addresses(v) },
            render: { $0.smtpsListeners.map(\.description).joined(separator: ", ") }),
        Key(name: "pop3s_listen", help: "POP3 listeners with implicit TLS (pop3s), e.g. 0.0.0.0:995.",
            apply: { c, v throws(KeyError) in c.pop3sListeners = try addresses(v) },
            render: { $0.pop3sListeners.map(\.description).joined(separator: ", ") }),
        Key(name: "metrics_listen",
            help: "Prometheus metrics over HTTP (GET /metrics), e.g. 127.0.0.1:9125; empty: off. No password: keep it on loopback.",
            apply: { c, v throws(KeyError) in c.metricsListeners = v.isEmpty ? [] : try addresses(v) },
            render: { $0.metricsListeners.map(\.description).joined(separator: ", ") }),
        Key(name: "lmtp_listen",
            help: "LMTP listeners (RFC 2033) for an MTA on this machine, such as Postfix's lmtp: transport: host:port or a Unix socket path (comma separated).",
            apply: { c, v throws(KeyError) in c.lmtpListeners = try addresses(v, allowsUnixPath: true) },
            render: { $0.lmtpListeners.map(\.description).joined(separator: ", ") }),
        Key(name: "tls_certificate",
            help: "PEM certificate chain for STARTTLS, STLS and the implicit-TLS listeners (empty: TLS off).",
            apply: { c, v throws(KeyError) in
                if v.isEmpty { c.tlsTurnedOff = true; return }
                var t = c.tls ?? TLSConfiguration(certificateChainPath: "", privateKeyPath: "")
                t.certificateChainPath = path(v, in: c)
                c.tls = t
            }, render: { c in c.tls.map { relativePath($0.certificateChainPath, in: c) } ?? "" }),
        Key(name: "tls_private_key", help: "PEM private key of tls_certificate (empty: TLS off).",
            apply: { c, v throws(KeyError) in
                if v.isEmpty { c.tlsTurnedOff = true; return }
                var t = c.tls ?? TLSConfiguration(certificateChainPath: "", privateKeyPath: "")
                t.privateKeyPath = path(v, in: c)
                c.tls = t
            }, render: { c in c.tls.map { relativePath($0.privateKeyPath, in: c) } ?? "" }),
        tlsKey("tls_minimum_version", "Oldest TLS version accepted: TLSv1.2 (default) or TLSv1.3.", render: \.minimumVersion.description) {
            t, v, _ throws(KeyError) in
            guard let version = TLSProtocolVersion(name: v) else { throw KeyError(message: "expected TLSv1.2 or TLSv1.3, got '\(v)'") }
            guard version >= .tls12 else { throw KeyError(message: "\(v) is too old: TLSv1.2 is the minimum") }
            t.minimumVersion = version
        },
        tlsKey("tls_cipher_list", "OpenSSL cipher list for TLS 1.2 (empty: a modern ECDHE/AEAD list).", render: \.cipherList) {
            t, v, _ throws(KeyError) in t.cipherList = v
        },
        tlsKey("tls_cipher_suites", "OpenSSL cipher suites for TLS 1.3 (empty: OpenSSL's AEAD suites).", render: \.cipherSuites) {
            t, v, _ throws(KeyError) in t.cipherSuites = v
        },
        Key(name: "mail_root", help: "Where the Maildirs live (relative paths are below the data folder).",
            apply: { c, v throws(KeyError) in c.mailRoot = path(v, in: c) }, render: { relativePath($0.mailRoot, in: $0) }),
        Key(name: "mail_location", help: "A user's Maildir below mail_root: %d domain, %n local part, %u address.",
            apply: { c, v throws(KeyError) in
                guard v.contains("%n") || v.contains("%u") else { throw KeyError(message: "must contain %n or %u") }
                guard !v.hasPrefix("/"), !v.split(separator: "/").contains("..") else {
                    throw KeyError(message: "must be a relative path without '..'")
                }
                c.mailLocation = v
            }, render: { $0.mailLocation }),
        Key(name: "users_file", help: "Dovecot-style passwd-file with the users (user:{SCHEME}hash).",
            apply: { c, v throws(KeyError) in c.usersFile = path(v, in: c) }, render: { relativePath($0.usersFile, in: $0) }),
        Key(name: "aliases_file", help: "Postfix-style alias table (alias@domain target, target).",
            apply: { c, v throws(KeyError) in c.aliasesFile = path(v, in: c) }, render: { relativePath($0.aliasesFile, in: $0) }),
        Key(name: "recipient_delimiter", help: "Subaddress delimiter (alice+tag@ reaches alice); empty turns it off.",
            apply: { c, v throws(KeyError) in
                guard v.count <= 1 else { throw KeyError(message: "must be one character or empty") }
                c.subaddressDelimiter = v.isEmpty ? nil : v
            }, render: { $0.subaddressDelimiter ?? "" }),
        Key(name: "subaddress_folders", help: "Deliver alice+tag@ into the folder .tag when it exists (yes/no).",
            apply: { c, v throws(KeyError) in c.deliversSubaddressToFolders = try bool(v) },
            render: { $0.deliversSubaddressToFolders ? "yes" : "no" }),
        Key(name: "catch_all", help: "Per-domain catch-all targets: domain=address, comma separated.",
            apply: { c, v throws(KeyError) in
                var map: [String: String] = [:]
                for item in list(v) {
                    let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2, MailAddress(parts[1]) != nil else {
                        throw KeyError(message: "expected domain=address, got '\(item)'")
                    }
                    map[parts[0].lowercased()] = parts[1]
                }
                c.catchAll = map
            }, render: { $0.catchAll.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") }),
        Key(name: "run_as_user", help: "When started as root: the user to switch to after binding the ports (empty: stay).",
            apply: { c, v throws(KeyError) in
                guard v.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                    throw KeyError(message: "'\(v)' is not a user name")
                }
                guard v.isEmpty || getpwnam(v) != nil else {
                    throw KeyError(message: "no such user '\(v)': create it (useradd --system --no-create-home \(v)) or leave run_as_user empty")
                }
                c.runAsUser = v.isEmpty ? nil : v
            }, render: { $0.runAsUser ?? "" }),
        Key(name: "log_file", help: "Also log to this file (appended; reopened on SIGHUP, for logrotate). Empty: standard error only.",
            apply: { c, v throws(KeyError) in c.logFile = v.isEmpty ? nil : path(v, in: c) },
            render: { c in c.logFile.map { relativePath($0, in: c) } ?? "" }),
        Key(name: "plaintext_auth_on_loopback", help: "Allow passwords without TLS (USER/PASS, AUTH) from plaintext_auth_networks (yes/no).",
            apply: { c, v throws(KeyError) in c.allowsPlaintextAuthenticationOnLoopback = try bool(v) },
            render: { $0.allowsPlaintextAuthenticationOnLoopback ? "yes" : "no" }),
        Key(name: "plaintext_auth_networks",
            help: "Client networks (CIDR) that may send passwords without TLS; a local proxy makes everyone look local, so remove 127.0.0.0/8 behind one.",
            apply: { c, v throws(KeyError) in c.plaintextAuthenticationNetworks = try networks(v) },
            render: { $0.plaintextAuthenticationNetworks.map(\.description).joined(separator: ", ") }),
        Key(name: "smtpd_auth_on_smtp", help: "Offer SMTP AUTH on smtp_listen too (yes/no); submission always offers it.",
            apply: { c, v throws(KeyError) in c.offersAuthenticationOnSMTP = try bool(v) },
            render: { $0.offersAuthenticationOnSMTP ? "yes" : "no" }),
        Key(name: "smtpd_auth_mechanisms", help: "SASL mechanisms SMTP AUTH offers, in order: plain and/or login (empty: no AUTH).",
            apply: { c, v throws(KeyError) in c.smtpAuthenticationMechanisms = try mechanisms(v) },
            render: { $0.smtpAuthenticationMechanisms.map { $0.name.lowercased() }.joined(separator: " ") }),
        Key(name: "sender_login_mismatch", help: "A logged-in user's MAIL FROM that is not theirs (login or own alias): reject or allow.",
            apply: { c, v throws(KeyError) in
                switch v.lowercased() {
                case "reject": c.rejectsSenderLoginMismatch = true
                case "allow": c.rejectsSenderLoginMismatch = false
                default: throw KeyError(message: "expected reject or allow, got '\(v)'")
                }
            }, render: { $0.rejectsSenderLoginMismatch ? "reject" : "allow" }),
        Key(name: "submission_messages_per_hour", help: "Messages one user may submit per hour, then 450 4.7.1 (0: no limit).",
            apply: { c, v throws(KeyError) in c.submissionMessagesPerHour = try count(v) },
            render: { String($0.submissionMessagesPerHour) }),
        Key(name: "submission_recipients_per_hour", help: "Recipients one user may submit to per hour, then 450 4.7.1 (0: no limit).",
            apply: { c, v throws(KeyError) in c.submissionRecipientsPerHour = try count(v) },
            render: { String($0.submissionRecipientsPerHour) }),
        Key(name: "submission_hide_client", help: "Leave the submitting client's IP address out of Received: (yes/no).",
            apply: { c, v throws(KeyError) in c.hidesSubmissionClient = try bool(v) },
            render: { $0.hidesSubmissionClient ? "yes" : "no" }),
        Key(name: "relay_networks", help: "Client networks (CIDR) that may send to any domain without AUTH, like Postfix's mynetworks (default none).",
            apply: { c, v throws(KeyError) in c.relayNetworks = try networks(v) },
            render: { $0.relayNetworks.map(\.description).joined(separator: ", ") }),
        Key(name: "relay_domains", help: "Domains we accept mail for from anyone and forward (a backup MX); needs deliver_outbound.",
            apply: { c, v throws(KeyError) in c.relayDomains = try domainList(v) },
            render: { $0.relayDomains.joined(separator: ", ") }),
        Key(name: "postmaster_address", help: "Where postmaster@ every local domain goes when no such user or alias exists (empty: the first domain's postmaster user).",
            apply: { c, v throws(KeyError) in
                guard !v.isEmpty else {
                    c.postmasterAddress = nil
                    return
                }
                guard let address = MailAddress(v) else { throw KeyError(message: "'\(v)' is not an address") }
                c.postmasterAddress = address
            }, render: { $0.postmasterAddress?.description ?? "" }),
        Key(name: "quota", help: "Each user's Maildir++ storage quota (K, M, G, T suffixes; 0: none); users-file userdb_quota_rule overrides.",
            apply: { c, v throws(KeyError) in
                guard let bytes = MailboxQuota.parseSize(v.replacingUnderscores) else {
                    throw KeyError(message: "'\(v)' is not a size such as 1G, 500M or 0 (no quota)")
                }
                c.quota.storageBytes = bytes > 0 ? bytes : nil
            }, render: { $0.quota.storageBytes.map(String.init) ?? "0" }),
        Key(name: "quota_messages", help: "Each user's Maildir++ message-count quota (0: none).",
            apply: { c, v throws(KeyError) in
                let n = try count(v)
                c.quota.messageCount = n > 0 ? n : nil
            }, render: { String($0.quota.messageCount ?? 0) }),
        Key(name: "quota_full_tempfail", help: "Over quota is a temporary failure (452 4.2.2, deliver exits 75) instead of 552 5.2.2 (exit 77) (yes/no).",
            apply: { c, v throws(KeyError) in c.quotaFullIsTemporary = try bool(v) },
            render: { $0.quotaFullIsTemporary ? "yes" : "no" }),
        Key(name: "quota_warning", help: "Percent of the quota at which a user gets one warning message (0: none).",
            apply: { c, v throws(KeyError) in
                let n = try count(v.hasSuffix("%") ? String(v.dropLast()) : v)
                guard n <= 100 else { throw KeyError(message: "'\(v)' is not a percentage from 0 to 100") }
                c.quotaWarningPercent = n > 0 ? n : nil
            }, render: { String($0.quotaWarningPercent ?? 0) }),
        Key(name: "deliver_outbound", help: "Queue and deliver mail for other domains from logged-in users and relay_networks (yes/no; yes for the postoffice command, no for the library).",
            apply: { c, v throws(KeyError) in c.deliversOutbound = try bool(v) }, render: { $0.deliversOutbound ? "yes" : "no" }),
        Key(name: "queue_directory", help: "The outbound queue's folder (relative paths are below the data folder).",
            apply: { c, v throws(KeyError) in c.queueDirectory = path(v, in: c) }, render: { relativePath($0.queueDirectory, in: $0) }),
        Key(name: "dkim_key_directory", help: "DKIM signing keys, DOMAIN/SELECTOR.pem (postoffice dkim generate writes them); mail we send from such a domain is signed.",
            apply: { c, v throws(KeyError) in c.dkimKeyDirectory = path(v, in: c) }, render: { relativePath($0.dkimKeyDirectory, in: $0) }),
        Key(name: "control_socket", help: "The Unix socket (mode 0600) `postoffice queue flush` reaches the running server through (empty: none).",
            apply: { c, v throws(KeyError) in c.controlSocketPath = v.isEmpty ? nil : path(v, in: c) },
            render: { c in c.controlSocketPath.map { relativePath($0, in: c) } ?? "" }),
        Key(name: "relayhost", help: "Send all mail for other domains through this smarthost: [host]:port (its addresses), host:port (its MX records) or ADDRESS:PORT; empty: MX.",
            apply: { c, v throws(KeyError) in
                guard !v.isEmpty else {
                    c.smarthost = nil
                    return
                }
                // Postfix's forms: brackets mean "no MX lookup"; an address is never looked up.
                guard let relay = RelayHost(parsing: v) else {
                    throw KeyError(message: "'\(v)' is not [host]:port, host:port or ADDRESS:PORT, e.g. [smtp.example.net]:587")
                }
                c.smarthost = relay
            }, render: { $0.smarthost?.description ?? "" }),
        Key(name: "smtp_destination_port", help: "The port of MX hosts (25).",
            apply: { c, v throws(KeyError) in
                guard let port = Int(v), (1...65535).contains(port) else { throw KeyError(message: "'\(v)' is not a port 1...65535") }
                c.smtpDestinationPort = port
            }, render: { String($0.smtpDestinationPort) }),
        Key(name: "smtp_tls_security_level", help: "Outbound STARTTLS: may (when offered), encrypt (required), verify (required, certificate checked) or none; the old name is outbound_tls.",
            apply: { c, v throws(KeyError) in
                guard ["may", "encrypt", "verify", "none"].contains(v) else { throw KeyError(message: "expected may, encrypt, verify or none, got '\(v)'") }
                c.outboundTLSPolicy = v
            }, render: { $0.outboundTLSPolicy }),
        Key(name: "smtp_tls_CAfile", help: "A PEM file of the CAs outbound `verify` trusts (globally and tls=verify in transport_maps) instead of the system store; empty: the system store.",
            apply: { c, v throws(KeyError) in c.outboundTLSCAFile = v.isEmpty ? nil : path(v, in: c) },
            render: { c in c.outboundTLSCAFile.map { relativePath($0, in: c) } ?? "" }),
        Key(name: "transport_maps", help: "A file of per-domain routes (DOMAIN smtp:[host]:port [tls=LEVEL] | smtp:host | local | error:5.x.x text); empty: none.",
            apply: { c, v throws(KeyError) in c.transportMapsFile = v.isEmpty ? nil : path(v, in: c) },
            render: { c in c.transportMapsFile.map { relativePath($0, in: c) } ?? "" }),
        Key(name: "relayhost_credentials_file", help: "AUTH user and password per relay host ([host]:port user:password), mode 600; sent only over TLS.",
            apply: { c, v throws(KeyError) in c.relayCredentialsFile = v.isEmpty ? nil : path(v, in: c) },
            render: { c in c.relayCredentialsFile.map { relativePath($0, in: c) } ?? "" }),
        Key(name: "dns_servers", help: "DNS servers to ask (HOST or HOST:PORT, comma separated) instead of /etc/resolv.conf.",
            apply: { c, v throws(KeyError) in
                let servers = list(v)
                // Refused here, not at the first lookup: a typo would otherwise leave outbound mail and the
                // inbound checks with no server to ask.
                if let bad = servers.first(where: { DNSServerAddress(parsing: $0) == nil }) {
                    throw KeyError(message: "'\(bad)' is not an IP address or IP:PORT (names cannot be resolved before DNS works)")
                }
                c.dnsServers = servers
            }, render: { $0.dnsServers.joined(separator: ", ") }),
        Key(name: "mail_authentication", help: "Check SPF, DKIM and DMARC on port 25 mail and add Authentication-Results (yes/no).",
            apply: { c, v throws(KeyError) in c.mailAuthentication = try bool(v) }, render: { $0.mailAuthentication ? "yes" : "no" }),
        Key(name: "mail_authentication_skip_networks", help: "Client networks (CIDR) whose mail is not checked (default loopback).",
            apply: { c, v throws(KeyError) in c.mailAuthenticationSkipNetworks = try networks(v) },
            render: { $0.mailAuthenticationSkipNetworks.map(\.description).joined(separator: ", ") }),
        Key(name: "authserv_id", help: "The authserv-id of our Authentication-Results headers (default: hostname).",
            apply: { c, v throws(KeyError) in
                c.authservID = v.isEmpty ? nil : try hostName(v)
            }, render: { $0.authservID ?? "" }),
        Key(name: "spf_policy", help: "tag (record the SPF result) or reject-fail (refuse SPF fail with 550 5.7.23).",
            apply: { c, v throws(KeyError) in
                guard ["tag", "reject-fail"].contains(v) else { throw KeyError(message: "expected tag or reject-fail, got '\(v)'") }
                c.rejectsSPFFail = v == "reject-fail"
            }, render: { $0.rejectsSPFFail ? "reject-fail" : "tag" }),
        Key(name: "dmarc_policy", help: "tag (record the DMARC result) or enforce (p=reject: 550 5.7.1; p=quarantine: .Junk folder).",
            apply: { c, v throws(KeyError) in
                guard ["tag", "enforce"].contains(v) else { throw KeyError(message: "expected tag or enforce, got '\(v)'") }
                c.enforcesDMARC = v == "enforce"
            }, render: { $0.enforcesDMARC ? "enforce" : "tag" }),
        Key(name: "spf_received_header", help: "Also add a Received-SPF header to checked mail (yes/no).",
            apply: { c, v throws(KeyError) in c.addsReceivedSPFHeader = try bool(v) }, render: { $0.addsReceivedSPFHeader ? "yes" : "no" }),
        Key(name: "public_suffix_list", help: "The Public Suffix List file DMARC uses (Debian package publicsuffix).",
            apply: { c, v throws(KeyError) in c.publicSuffixListPath = path(v, in: c) }, render: { relativePath($0.publicSuffixListPath, in: $0) }),
        Key(name: "mail_authentication_timeout", help: "Seconds all DNS lookups of one SPF or DKIM/DMARC check may take (then temperror).",
            apply: { c, v throws(KeyError) in
                guard let seconds = Int(v), (1...300).contains(seconds) else { throw KeyError(message: "'\(v)' is not 1...300 seconds") }
                c.mailAuthenticationTimeoutSeconds = seconds
            }, render: { String($0.mailAuthenticationTimeoutSeconds) }),
        Key(name: "delay_warning_time", help: "Queue time before the sender gets one delay report: a number with s, m, h (the default unit), d or w; 0: none (default 4h).",
            apply: { c, v throws(KeyError) in
                let seconds = try postfixTime(v, defaultUnit: "h")
                c.delayWarningSeconds = seconds == 0 ? nil : seconds
            }, render: { c in c.delayWarningSeconds.map { $0 % 3600 == 0 ? "\($0 / 3600)h" : "\($0)s" } ?? "0h" }),
        lifetime(
            "maximal_queue_lifetime",
            "How long mail may wait in the outbound queue before it fails (4.4.7) and its sender gets a failure report: a number with s, m, h, d (the default unit) or w (default 5d).",
            \.maximalQueueLifetimeSeconds),
        lifetime(
            "bounce_queue_lifetime",
            "The same for reports (mail from <>), which give up sooner: after it a failed report goes to the postmaster once (default 2d).",
            \.bounceQueueLifetimeSeconds),
        Key(name: "queue_run_interval", help: "Seconds between scans of the outbound queue for mail that is due (new mail goes at once).",
            apply: { c, v throws(KeyError) in
                guard let seconds = Int(v), (1...86400).contains(seconds) else { throw KeyError(message: "'\(v)' is not 1...86400 seconds") }
                c.queueRunIntervalSeconds = seconds
            }, render: { String($0.queueRunIntervalSeconds) }),
        Key(name: "in_flow_delay", help: "How long a client may be held before it adds a message to the outbound queue while more mail waits for a delivery slot than half the attempts in flight: a time with s (the default unit) or ms, 0 to 10s; 0: off (default 1s).",
            apply: { c, v throws(KeyError) in
                let milliseconds: Int
                if v.lowercased().hasSuffix("ms"), let number = Int(v.dropLast(2)) {
                    milliseconds = number
                } else {
                    milliseconds = try postfixTime(v, defaultUnit: "s") * 1000
                }
                guard (0...10_000).contains(milliseconds) else { throw KeyError(message: "'\(v)' is not 0 to 10s (Postfix's range)") }
                c.inFlowDelayMilliseconds = milliseconds
            }, render: { c in c.inFlowDelayMilliseconds % 1000 == 0 ? "\(c.inFlowDelayMilliseconds / 1000)s" : "\(c.inFlowDelayMilliseconds)ms" }),
        limit("message_size_limit", "Largest message in bytes (SIZE, RFC 1870).", \.maximumMessageSize, 1...Int(Int32.max)),
        limit("recipient_limit", "Most recipients per message (RFC 5321 §4.5.3.1.8 asks at least 100).", \.maximumRecipients, 100...100_000),
        limit("smtp_line_length_limit", "Longest SMTP command line in bytes (RFC 5321: at least 512).", \.smtpCommandLineLength, 512...65536),
        limit("smtp_text_line_length", "Longest message text line counted by reject_long_lines (RFC 5321: 1000).", \.smtpTextLineLength, 1000...1_000_000),
        Key(name: "reject_long_lines", help: "Refuse messages with lines over smtp_text_line_length (yes/no).",
            apply: { c, v throws(KeyError) in c.limits.rejectLongTextLines = try bool(v) },
            render: { $0.limits.rejectLongTextLines ? "yes" : "no" }),
        limit("smtp_command_timeout", "Seconds to wait for an SMTP command (RFC 5321 §4.5.3.2.7: 300).", \.smtpCommandTimeoutSeconds, 1...86400),
        limit("smtp_data_timeout", "Seconds to wait for each block of DATA (RFC 5321 §4.5.3.2.6: 180).", \.smtpDataTimeoutSeconds, 1...86400),
        limit("smtp_greeting_delay_ms", "Delay before the SMTP greeting; clients that talk first get 554 (0: off).", \.smtpGreetingDelayMilliseconds, 0...60000),
        limit("soft_error_limit", "Errors after which replies are delayed (Postfix: 10).", \.softErrorLimit, 1...1000),
        limit("hard_error_limit", "Errors after which the session is closed (Postfix: 20).", \.hardErrorLimit, 1...1000),
        limit("pop3_line_length_limit", "Longest POP3 command line (RFC 2449: 255).", \.pop3CommandLineLength, 255...65536),
        limit("pop3_idle_timeout", "POP3 autologout seconds (RFC 1939 §3: at least 600).", \.pop3IdleTimeoutSeconds, 600...86400),
        limit("failed_login_delay_ms", "Delay before answering a failed login, in milliseconds.", \.failedLoginDelayMilliseconds, 0...60000),
        limit("failed_logins_per_minute", "Failed logins allowed per client IP per minute.", \.failedLoginsPerMinutePerAddress, 1...100_000),
        limit("connections_per_client", "Simultaneous connections from one client IP.", \.connectionsPerAddress, 1...1_000_000),
        Key(name: "limit_loopback_connections", help: "Apply connections_per_client to loopback clients too (yes/no).",
            apply: { c, v throws(KeyError) in c.limits.limitsLoopbackConnections = try bool(v) },
            render: { $0.limits.limitsLoopbackConnections ? "yes" : "no" }),
        proxyProtocol("smtp"), proxyProtocol("submission"), proxyProtocol("submissions"), proxyProtocol("pop3"),
        proxyProtocol("pop3s"),
        Key(name: "proxy_protocol_timeout", help: "Seconds a *_proxy_protocol listener waits for the PROXY header (1-300).",
            apply: { c, v throws(KeyError) in
                guard let seconds = Int(v), (1...300).contains(seconds) else {
                    throw KeyError(message: "expected seconds from 1 to 300, got '\(v)'")
                }
                c.proxyHeaderTimeoutSeconds = seconds
            },
            render: { String($0.proxyHeaderTimeoutSeconds) }),
        limit("max_connections", "Simultaneous connections in all.", \.maximumConnections, 1...10_000_000),
        limit("shutdown_grace_seconds", "Seconds a graceful shutdown waits for messages in flight.", \.shutdownGraceSeconds, 0...3600),
    ]

    /// A setting of the TLS configuration: an empty value keeps the default; a value creates the TLS
    /// configuration if needed (its certificate and key are checked together after the whole file is read).
    static func tlsKey(
        _ name: String, _ help: String, render: any KeyPath<TLSConfiguration, String> & Sendable,
        apply: @escaping @Sendable (inout TLSConfiguration, String, PostOfficeConfiguration) throws(KeyError) -> Void
    ) -> Key {
        Key(
            name: name, help: help,
            apply: { c, v throws(KeyError) in
                if v.isEmpty { return }
                var t = c.tls ?? TLSConfiguration(certificateChainPath: "", privateKeyPath: "")
                try apply(&t, v, c)
                c.tls = t
            }, render: { $0.tls?[keyPath: render] ?? "" })
    }

    /// `<listener>_proxy_protocol = yes`: that kind of listener reads a PROXY protocol header first.
    static func proxyProtocol(_ listener: String) -> Key {
        Key(
            name: listener + "_proxy_protocol",
            help: "Connections to \(listener) listeners come through a proxy that sends a PROXY v1/v2 header, such as HAProxy's send-proxy (yes/no).",
            apply: { c, v throws(KeyError) in
                if try bool(v) {
                    c.proxyProtocolListeners.insert(listener)
                } else {
                    c.proxyProtocolListeners.remove(listener)
                }
            },
            render: { $0.proxyProtocolListeners.contains(listener) ? "yes" : "no" })
    }

    static func limit(
        _ name: String, _ help: String, _ keyPath: any WritableKeyPath<Limits, Int> & Sendable, _ range: ClosedRange<Int>
    ) -> Key {
        Key(
            name: name, help: help,
            apply: { c, v throws(KeyError) in
                guard let n = Int(v.replacingUnderscores) else { throw KeyError(message: "'\(v)' is not a whole number") }
                guard range.contains(n) else {
                    throw KeyError(message: "\(n) is out of range \(range.lowerBound)...\(range.upperBound)")
                }
                c.limits[keyPath: keyPath] = n
            }, render: { String($0.limits[keyPath: keyPath]) })
    }

    static func list(_ value: String) -> [String] {
        value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// Domains separated by commas: white space inside an item is a mistake (a missing comma or a typo), not a
    /// separator, and every domain must be one the accounts files accept (no trailing dot).
    static func domainList(_ value: String) throws(KeyError) -> [String] {
        var out: [String] = []
        for item in value.split(separator: ",").map({ String($0).trimmed }) where !item.isEmpty {
            if item.contains(where: { $0 == " " || $0 == "\t" }) {
                throw KeyError(message: "'\(item)' has white space inside: separate domains with commas")
            }
            if item.hasSuffix(".") {
                throw KeyError(message: "'\(item)' ends with a dot: write \(item.dropLast())")
            }
            do {
                out.append(try AccountName.normalizedDomain(item))
            } catch {
                throw KeyError(message: "\(error)")
            }
        }
        return out
    }

    /// Old key names that still work, with the name they have now.
    static let renamedKeys = ["smtps_listen": "submissions_listen", "outbound_tls": "smtp_tls_security_level"]

    static func networks(_ value: String) throws(KeyError) -> [NetworkRange] {
        var out: [NetworkRange] = []
        for item in list(value) {
            guard let network = NetworkRange(item) else {
                throw KeyError(message: "'\(item)' is not a network: write an address or ADDRESS/BITS, e.g. 192.0.2.0/24 or ::1/128")
            }
            out.append(network)
        }
        return out
    }

    /// A list of SASL mechanism names (spaces or commas between them), each at most once.
    static func mechanisms(_ value: String) throws(KeyError) -> [SASLMechanism] {
        var result: [SASLMechanism] = []
        for name in list(value) {
            guard let mechanism = SASLMechanism(name: name) else {
                let known = SASLMechanism.allCases.map { $0.name.lowercased() }.joined(separator: ", ")
                throw KeyError(message: "'\(name)' is not a mechanism PostOffice offers (\(known))")
            }
            if !result.contains(mechanism) { result.append(mechanism) }
        }
        return result
    }

    static func count(_ value: String) throws(KeyError) -> Int {
        guard let n = Int(value.replacingUnderscores), n >= 0 else { throw KeyError(message: "'\(value)' is not a whole number of 0 or more") }
        return n
    }

    static func bool(_ value: String) throws(KeyError) -> Bool {
        switch value.lowercased() {
        case "yes", "true", "on", "1": return true
        case "no", "false", "off", "0": return false
        default: throw KeyError(message: "expected yes or no, got '\(value)'")
        }
    }

    static func hostName(_ value: String) throws(KeyError) -> String {
        let ok = !value.isEmpty && value.count <= 253 && value.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "."
        }
        guard ok else { throw KeyError(message: "'\(value)' is not a host name") }
        return value
    }

    static func addresses(_ value: String, allowsUnixPath: Bool = false) throws(KeyError) -> [SocketAddress] {
        var out: [SocketAddress] = []
        for item in list(value) {
            guard let address = SocketAddress(parsing: item, allowsUnixPath: allowsUnixPath) else {
                var problem = listenerProblem(item)
                if allowsUnixPath {
                    problem += " or an absolute Unix socket path of at most \(SocketAddress.maximumUnixPathLength) bytes"
                }
                throw KeyError(message: problem)
            }
            out.append(address)
        }
        return out
    }

    /// Why `text` is not a listener address, in words (for `SocketAddress(parsing:)` failures).
    public static func listenerProblem(_ text: String) -> String {
        if let colon = text.lastIndex(of: ":") {
            let port = text[text.index(after: colon)...]
            if !port.isEmpty, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber), Int(port).map({ $0 > 65535 }) ?? true {
                return "'\(text)': port \(port) is out of range 0...65535"
            }
        }
        return "'\(text)' is not host:port with a literal IP address"
    }

    /// A Postfix time value: digits with an optional unit (s, m, h, d, w; `defaultUnit` without one).
    /// A queue lifetime in Postfix's time syntax, days by default; at least one second, at most 100 days.
    private static func lifetime(
        _ name: String, _ help: String, _ field: any WritableKeyPath<PostOfficeConfiguration, Int> & Sendable
    ) -> Key {
        Key(name: name, help: help,
            apply: { c, v throws(KeyError) in
                let seconds = try postfixTime(v, defaultUnit: "d")
                guard (1...100 * 86400).contains(seconds) else { throw KeyError(message: "'\(v)' is not between 1s and 100d") }
                c[keyPath: field] = seconds
            },
            render: { c in
                let seconds = c[keyPath: field]
                return seconds % 86400 == 0 ? "\(seconds / 86400)d" : seconds % 3600 == 0 ? "\(seconds / 3600)h" : "\(seconds)s"
            })
    }

    static func postfixTime(_ value: String, defaultUnit: Character) throws(KeyError) -> Int {
        let text = value.lowercased()
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        let factors: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        guard let number = Int(digits), number <= 10_000_000, unit.count <= 1,
            let factor = factors[unit.first ?? defaultUnit]
        else { throw KeyError(message: "'\(value)' is not a time such as 4h, 30m or 0 (s, m, h, d or w)") }
        return number * factor
    }

    static func path(_ value: String, in configuration: PostOfficeConfiguration) -> String {
        if value.hasPrefix("/") { return value }
        let folder = configuration.dataDirectory
        return folder.hasSuffix("/") ? folder + value : folder + "/" + value
    }

    /// `path` as a config value: relative when it is inside the data folder, else absolute (a relative
    /// path outside it is relative to the working directory, which the value could not express).
    static func relativePath(_ path: String, in configuration: PostOfficeConfiguration) -> String {
        let folder = configuration.dataDirectory.hasSuffix("/") ? configuration.dataDirectory : configuration.dataDirectory + "/"
        if path.hasPrefix(folder) && path.count > folder.count { return String(path.dropFirst(folder.count)) }
        if path.hasPrefix("/") || path.isEmpty { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return directory + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }

    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
