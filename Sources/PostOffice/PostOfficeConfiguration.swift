// PostOfficeConfiguration: everything a server needs to run — host name, data folder, listeners, domains,
// limits and account files. The CLI fills it from the config file; embedders fill it in code.

import PostOfficeCore
import PostOfficeTLS

/// The settings of a ``PostOfficeServer``.
///
/// ```swift
/// var configuration = PostOfficeConfiguration(dataDirectory: "/var/lib/postoffice")
/// configuration.domains = ["example.test"]
/// configuration.smtpListeners = [SocketAddress(host: "127.0.0.1", port: 0)]   // port 0: pick a free one
/// ```
public struct PostOfficeConfiguration: Sendable {
    /// Our host name: in the SMTP greeting, EHLO reply, `Received:` headers and Maildir file names.
    public var hostname: String
    /// The data folder. Holds `mail/` (the Maildirs), `users` and `aliases` unless configured elsewhere.
    public var dataDirectory: String
    /// Where Maildirs live; default `<dataDirectory>/mail`.
    public var mailRoot: String
    /// The Maildir of a user below ``mailRoot``, like Dovecot's `mail_location`: `%d` is the domain, `%n`
    /// the local part, `%u` the full address. Default `%d/%n`.
    public var mailLocation: String = "%d/%n"
    /// Domains we accept mail for (case-insensitive). Everything else is relaying, which is refused.
    public var domains: [String] = ["localhost"]
    /// SMTP listeners (RFC 5321). Default 127.0.0.1:2525.
    public var smtpListeners: [SocketAddress] = [SocketAddress(host: "127.0.0.1", port: 2525)]
    /// POP3 listeners (RFC 1939). Default 127.0.0.1:1100.
    public var pop3Listeners: [SocketAddress] = [SocketAddress(host: "127.0.0.1", port: 1100)]
    /// Submission listeners with implicit TLS (submissions, port 465, [RFC 8314](https://www.rfc-editor.org/rfc/rfc8314)):
    /// the same service as ``submissionListeners``, TLS from the first byte. Need ``tls``. (The configuration
    /// file calls them `submissions_listen`; `smtps_listen` is the old name.)
    public var smtpsListeners: [SocketAddress] = []
    /// POP3 listeners with implicit TLS (pop3s, port 995, RFC 8314). Need ``tls``.
    public var pop3sListeners: [SocketAddress] = []
    /// Listeners that answer `GET /metrics` with the server's counters in the Prometheus text format
    /// (`metrics_listen`). Empty (the default): no metrics endpoint. Plain HTTP without authentication, so
    /// bind it to loopback or a private network.
    public var metricsListeners: [SocketAddress] = []
    /// The kinds of listener whose connections come through a proxy that sends a PROXY protocol header
    /// (HAProxy's `send-proxy` / `send-proxy-v2`): by listener name, `smtp`, `submission`, `submissions`,
    /// `pop3`, `pop3s` (the `*_proxy_protocol` keys of the file). The header's client address then counts
    /// everywhere the peer address did: limits, `relay_networks`, `Received:`, throttles and logs. Default none.
    public var proxyProtocolListeners: Set<String> = []
    /// Seconds a PROXY protocol listener waits for the header before closing the connection (default 5).
    public var proxyHeaderTimeoutSeconds = 5
    /// LMTP listeners ([RFC 2033](https://www.rfc-editor.org/rfc/rfc2033)): an MTA on this machine (Postfix's
    /// `lmtp:` transport) hands mail for local users to our Maildirs and gets one reply per recipient. TCP
    /// (`127.0.0.1:24`) or a Unix socket path. Default none.
    public var lmtpListeners: [SocketAddress] = []
    /// TLS certificate, key, minimum version and ciphers. nil turns TLS off: no STARTTLS
    /// ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)) or STLS ([RFC 2595](https://www.rfc-editor.org/rfc/rfc2595))
    /// is offered and implicit-TLS listeners cannot start. Reloaded on ``PostOfficeServer/reloadAccounts()``.
    public var tls: TLSConfiguration?
    /// Protocol limits and timeouts.
    public var limits = Limits()
    /// Dovecot-style passwd-file with the users; default `<dataDirectory>/users`.
    public var usersFile: String
    /// Postfix-style alias table; default `<dataDirectory>/aliases`.
    public var aliasesFile: String
    /// Allow USER/PASS and AUTH PLAIN without TLS from ``plaintextAuthenticationNetworks`` (default true).
    /// Elsewhere plaintext passwords are refused until TLS is up.
    public var allowsPlaintextAuthenticationOnLoopback = true
    /// The client networks trusted to send passwords without TLS (default loopback: 127.0.0.0/8 and ::1).
    /// The peer address decides, so a proxy on this machine (stunnel, haproxy, `ssh -L`) makes its remote
    /// clients look local: remove loopback from this list when such a proxy forwards outside traffic.
    public var plaintextAuthenticationNetworks: [NetworkRange] = NetworkRange.loopback
    /// Subaddress delimiter: `alice+tag@` reaches alice. nil turns subaddressing off.
    public var subaddressDelimiter: String? = "+"
    /// Deliver `alice+tag@` into alice's `.tag` folder when that folder exists.
    public var deliversSubaddressToFolders = false
    /// After binding the listeners, a process started as root switches to this user (and its group),
    /// so privileged ports (25, 110) work without keeping root. The data folder must belong to that user.
    /// Used by the CLI; an embedder drops privileges itself.
    public var runAsUser: String?
    /// Catch-all targets per domain: mail for unknown users of the domain goes there. `@domain` lines of
    /// the aliases file are catch-alls too, and win over this for the same domain.
    public var catchAll: [String: String] = [:]
    /// Message submission listeners (RFC 6409, port 587 style): STARTTLS when a certificate is configured,
    /// SMTP AUTH required before MAIL, then any domain. Default none; the CLI's embedded default serves
    /// 127.0.0.1:1587.
    public var submissionListeners: [SocketAddress] = []
    /// Offer SMTP AUTH on the port 25 listeners too (Postfix's `smtpd_sasl_auth_enable` there). Default no:
    /// port 25 is for other servers, which never log in.
    public var offersAuthenticationOnSMTP = false
    /// The SASL mechanisms SMTP AUTH offers ([RFC 4954 §3](https://www.rfc-editor.org/rfc/rfc4954#section-3)),
    /// in the order advertised. Default PLAIN and LOGIN (LOGIN is for old clients that know nothing else); an
    /// empty list turns SMTP AUTH off, and with it submission (MAIL there needs AUTH).
    public var smtpAuthenticationMechanisms: [SASLMechanism] = [.plain, .login]
    /// What to do when an authenticated user's MAIL FROM is not an address they own (their login address,
    /// or an alias that resolves to it): refuse with 553 5.7.1 (default) or allow.
    public var rejectsSenderLoginMismatch = true
    /// Per-user brakes for a stolen password: messages and recipients each user may submit per hour
    /// (450 4.7.1 beyond them). 0 means no limit.
    public var submissionMessagesPerHour = 200
    public var submissionRecipientsPerHour = 1000
    /// Domains we accept mail for from anyone and forward through the queue (Postfix's `relay_domains`):
    /// a backup MX, or store-and-forward for a domain's own server. Lower case. Default none.
    public var relayDomains: [String] = []
    /// Client networks that may relay without AUTH (Postfix's `mynetworks`), e.g. a web server. Default none.
    public var relayNetworks: [NetworkRange] = []
    /// Leave the submitting client's address out of the Received: header (`submission_hide_client`).
    public var hidesSubmissionClient = false
    /// Queue mail for other domains and deliver it (the outbound queue in ``queueDirectory``). Off, recipients in
    /// other domains are refused with 451 4.3.0 even after AUTH. Off by default for embedders (and their tests,
    /// which should then name ``dnsServers`` or a relay host); the `postoffice` command's default
    /// `postoffice.conf` turns it on.
    public var deliversOutbound = false
    /// The outbound queue's folder (default `DATA/queue`).
    public var queueDirectory: String
    /// DKIM signing keys (default `DATA/dkim`): `DOMAIN/SELECTOR.pem`, one unencrypted PEM private key (RSA or
    /// Ed25519) per domain and selector, as `postoffice dkim generate` writes them. Mail we send (submission,
    /// `sendmail`, delivery reports) whose From: domain has keys is signed with each of them
    /// ([RFC 6376](https://www.rfc-editor.org/rfc/rfc6376)). Read at start and on every reload.
    public var dkimKeyDirectory: String
    /// The control socket (`control_socket`, default `DATA/control.sock`, mode 0600) through which
    /// `postoffice queue flush` reaches the running server; nil: none.
    public var controlSocketPath: String?
    /// Send everything for other domains through this host (a smarthost, `relayhost`), instead of looking up the
    /// recipient domain's MX records. Many home and cloud networks block port 25, so this is often needed.
    /// `[smtp.example.net]:587` connects to that host's addresses, `smtp.example.net:587` looks up its MX records
    /// first, an IP address is used as is.
    public var smarthost: RelayHost?
    /// The relay host when it is an IP address (``smarthost`` holds every form; nil here for a host name).
    /// Setting it sets ``smarthost``.
    public var relayHost: SocketAddress? {
        get { smarthost?.address }
        set { smarthost = newValue.map(RelayHost.init) }
    }
    /// DNS servers to ask (`HOST`, `HOST:PORT`, `[v6]:PORT`) instead of those in /etc/resolv.conf.
    public var dnsServers: [String] = []
    /// The port used for MX delivery (25; tests point it at their own servers).
    public var smtpDestinationPort = 25
    /// Outbound TLS (`smtp_tls_security_level`, formerly `outbound_tls`): `may` (opportunistic STARTTLS, the
    /// default), `encrypt` (STARTTLS required, any certificate), `verify` (STARTTLS required, certificate and host
    /// name checked against ``outboundTLSCAFile`` or the system store) or `none` (never STARTTLS). transport_maps
    /// can set it per domain.
    public var outboundTLSPolicy = "may"
    /// `smtp_tls_CAfile`: a PEM file of the certificate authorities `verify` trusts (globally and `tls=verify` in
    /// transport_maps), instead of the system store (like Postfix with `tls_append_default_CA = no`): a private
    /// CA, or a smarthost's own certificate. Read at start and on reload; a file that cannot be read or holds no
    /// certificate refuses the start (or the reload). nil: the system store.
    public var outboundTLSCAFile: String?
    /// The `transport_maps` file: per-domain routes overriding the relay host and MX records; nil: none.
    /// Read at start and on reload.
    public var transportMapsFile: String?
    /// The `relayhost_credentials_file`: AUTH credentials per relay host (mode 0600 or the server refuses to
    /// start); used only over TLS. nil: no AUTH.
    public var relayCredentialsFile: String?
    /// How long a message waits in the queue before its sender gets the one delay report
    /// (`delay_warning_time`, like Postfix's; default 4 hours, where Postfix ships with 0 = off). nil: none.
    public var delayWarningSeconds: Int? = 4 * 3600
    /// How long mail may wait in the outbound queue before its remaining recipients fail with 4.4.7
    /// (`maximal_queue_lifetime`, Postfix's name; default 5 days, RFC 5321 §4.5.4.1).
    public var maximalQueueLifetimeSeconds = 5 * 86400
    /// The same for reports, mail from `<>` (`bounce_queue_lifetime`; default 2 days): a report that cannot
    /// be delivered gives up sooner, then goes once to the postmaster.
    public var bounceQueueLifetimeSeconds = 2 * 86400
    /// Seconds between scans of the queue for mail that is due (new mail is tried at once).
    public var queueRunIntervalSeconds = 30
    /// How long a session may be held before it adds a message to the outbound queue while the queue has more
    /// mail waiting for a delivery slot than half the attempts in flight (`in_flow_delay`, like Postfix's, default 1 s;
    /// 0 turns it off; at most 10 s). The reply to the first recipient that goes through the queue waits until
    /// the backlog drains or this passes, so clients that hand mail over faster than it goes out slow down
    /// instead of the queue growing (and mail waiting in it). Applies with ``deliversOutbound`` only; new
    /// sessions take a reloaded value.
    public var inFlowDelayMilliseconds = 1000
    /// Where mail for `postmaster` of every local domain goes when no user or alias of that name exists
    /// (RFC 5321 §4.5.1 requires every domain to accept it). nil: the first local domain's postmaster user.
    public var postmasterAddress: MailAddress?
    /// Every user's Maildir++ quota (`quota` for storage, `quota_messages` for a message count), unless the
    /// users file names one (`userdb_quota_rule=*:storage=2G`). Unlimited by default.
    public var quota: MailboxQuota = .unlimited
    /// Over quota is a temporary failure (452 4.2.2, `deliver` exits 75) instead of a permanent one
    /// (552 5.2.2, `deliver` exits 77): `quota_full_tempfail`, as in Dovecot.
    public var quotaFullIsTemporary = false
    /// Deliver a warning to a user once their usage reaches this percentage of their quota, and again only
    /// after it has been below it (`quota_warning`; nil or 0: none).
    public var quotaWarningPercent: Int?
    /// Check SPF, DKIM and DMARC on mail arriving on the SMTP (port 25) listeners and record the results in an
    /// `Authentication-Results:` header ([RFC 8601](https://www.rfc-editor.org/rfc/rfc8601)). Never for
    /// submission, authenticated users, ``relayNetworks`` or ``mailAuthenticationSkipNetworks``. Default on.
    public var mailAuthentication = true
    /// Clients whose mail is not checked (default loopback: local scripts and re-injecting filters).
    public var mailAuthenticationSkipNetworks: [NetworkRange] = NetworkRange.loopback
    /// Our authserv-id in `Authentication-Results:` (RFC 8601 §2.5); nil: ``hostname``.
    public var authservID: String?
    /// `spf_policy = reject-fail`: refuse MAIL FROM with 550 5.7.23 when SPF says `fail` (default: only tag).
    public var rejectsSPFFail = false
    /// `dmarc_policy = enforce`: refuse `p=reject` failures with 550 5.7.1 and file `p=quarantine` failures
    /// into the recipients' `.Junk` folder (default: only tag).
    public var enforcesDMARC = false
    /// Add a `Received-SPF:` header (RFC 7208 §9.1) too.
    public var addsReceivedSPFHeader = false
    /// The Public Suffix List DMARC uses to find Organizational Domains (Debian package `publicsuffix`).
    public var publicSuffixListPath = "/usr/share/publicsuffix/public_suffix_list.dat"
    /// Seconds the DNS lookups of one check (SPF at MAIL FROM; DKIM keys and DMARC after DATA) may take in
    /// all; lookups past it count as temporary DNS errors (temperror, never a rejection).
    public var mailAuthenticationTimeoutSeconds = 20
    /// A file the CLI appends its log to, besides standard error (reopened on SIGHUP for logrotate).
    /// Used by the CLI; an embedder passes its own ``LogSink``.
    public var logFile: String?
    /// Set while a config file is read when it turns TLS off (an empty `tls_certificate`).
    var tlsTurnedOff = false
    /// Old key names the config file used ("FILE:LINE: 'old' is now 'new'"), logged when the server starts.
    public internal(set) var deprecatedKeys: [String] = []

    public init(hostname: String = "localhost", dataDirectory: String) {
        self.hostname = hostname
        self.dataDirectory = dataDirectory
        queueDirectory = dataDirectory + "/queue"
        dkimKeyDirectory = dataDirectory + "/dkim"
        controlSocketPath = dataDirectory + "/control.sock"
        mailRoot = dataDirectory + "/mail"
        usersFile = dataDirectory + "/users"
        aliasesFile = dataDirectory + "/aliases"
    }
}
