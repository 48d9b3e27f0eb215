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
    /// other domains are refused with 451 4.3.0 even after AUTH. Partial: see the README's outbound section.
    public var deliversOutbound = false
    /// The outbound queue's folder (default `DATA/queue`).
    public var queueDirectory: String
    /// The control socket (`control_socket`, default `DATA/control.sock`, mode 0600) through which
    /// `postoffice queue flush` reaches the running server; nil: none.
    public var controlSocketPath: String?
    /// Send everything for other domains through this host (a smarthost), instead of looking up MX records.
    /// Many home and cloud networks block port 25, so this is often needed.
    public var relayHost: SocketAddress?
    /// DNS servers to ask (`HOST`, `HOST:PORT`, `[v6]:PORT`) instead of those in /etc/resolv.conf.
    public var dnsServers: [String] = []
    /// The port used for MX delivery (25; tests point it at their own servers).
    public var smtpDestinationPort = 25
    /// Outbound TLS: `may` (opportunistic STARTTLS, the default), `encrypt` (STARTTLS required, any certificate)
    /// or `verify` (STARTTLS required, certificate and host name checked against the system store).
    public var outboundTLSPolicy = "may"
    /// How long a message waits in the queue before its sender gets the one delay report
    /// (`delay_warning_time`, like Postfix's; default 4 hours, where Postfix ships with 0 = off). nil: none.
    public var delayWarningSeconds: Int? = 4 * 3600
    /// Seconds between scans of the queue for mail that is due (new mail is tried at once).
    public var queueRunIntervalSeconds = 30
    /// Where mail for `postmaster` of every local domain goes when no user or alias of that name exists
    /// (RFC 5321 §4.5.1 requires every domain to accept it). nil: the first local domain's postmaster user.
    public var postmasterAddress: MailAddress?
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
        controlSocketPath = dataDirectory + "/control.sock"
        mailRoot = dataDirectory + "/mail"
        usersFile = dataDirectory + "/users"
        aliasesFile = dataDirectory + "/aliases"
    }
}
